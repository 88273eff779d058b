"""Task report sections: the shell renders what the run's task returns, nothing more."""

from __future__ import annotations

import json
import re
from pathlib import Path

from markupsafe import Markup

from tunelab.report import write_report
from tunelab.report.loader import load_run
from tunelab.report.sections import ReportSection, task_sections
from tunelab.tasks import get_task
from tunelab.tasks.classification_report import SECTION_TITLE, per_class_table

from .conftest import assert_nontrivial_png, make_run_dir
from .test_render import _headings


def test_classification_tasks_add_confusion_matrix_and_table(run_dir: Path) -> None:
    run = load_run(run_dir)
    for task in ("text_classification", "image_classification"):
        (section,) = get_task(task).report_sections(run)
        assert section.title == SECTION_TITLE and section.layout == "split"
        assert section.figure is not None
        assert_nontrivial_png(section.figure)
        assert section.html.count('<td class="label">') == 6 + 1  # classes + macro avg
        assert f"<td>{run.metrics.test['f1_macro']:.3f}</td>" in section.html


def test_many_classes_stack_the_matrix_above_the_table(tmp_path: Path) -> None:
    labels = tuple(f"class{i}" for i in range(12))
    run = load_run(make_run_dir(tmp_path / "r", labels=labels))
    (section,) = task_sections(run)
    assert section.layout == "stack"


def test_per_class_table_escapes_labels_and_tints_weak_classes() -> None:
    per_class = {
        "<b>bold</b>": {"precision": 0.9, "recall": 0.8, "f1": 0.85, "support": 10},
        "weak": {"precision": 0.3, "recall": 0.2, "f1": 0.24, "support": 3},
    }
    html = per_class_table(per_class, {})
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold" not in html
    assert html.count('class="weak"') == 1 and "<tfoot>" not in html


def test_base_task_adds_no_sections_and_unknown_task_none(run_dir: Path) -> None:
    metrics = json.loads((run_dir / "metrics.json").read_text())
    metrics["task"] = "no_such_task"
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    assert task_sections(load_run(run_dir)) == []
    html = write_report(run_dir).read_text()
    assert "Confusion matrix" not in html and _headings(html)[-1] == "4Data"


def test_sections_of_a_task_render_after_the_generic_ones(monkeypatch, run_dir: Path) -> None:
    task = get_task("text_classification")
    extra = [
        ReportSection("Calibration", html=Markup("<p>ECE 0.031</p>"), lead="Test split."),
        ReportSection("Errors by length", html=Markup("<p>long texts fail</p>")),
    ]
    monkeypatch.setattr(type(task), "report_sections", lambda self, run: extra)
    html = write_report(run_dir).read_text()
    assert _headings(html)[-3:] == ["4Data", "5Calibration", "6Errors by length"]
    assert "<p>ECE 0.031</p>" in html and 'href="#task-2"' in html


def test_compare_report_groups_a_section_per_strategy(compare_report: Path) -> None:
    html = compare_report.read_text()
    section = re.search(r'<section id="task-1">.*?</section>', html, re.S).group(0)
    assert SECTION_TITLE in section
    names = re.findall(r"<summary>(\w+)</summary>", section)
    assert names == ["feature_extraction", "top_k", "full", "scratch"]
    assert section.count("<details open>") == 1  # the recommended strategy

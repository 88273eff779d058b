"""The report follows the recorded objective: any task's metrics, in their direction.

A language-model-like run (loss and perplexity, lower is better, monitored by the loss,
no classes) must render without a trace of classification; a run written before the
objective was recorded still renders as the classification run it was.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from tunelab.report import run_figures, screenshot, write_report
from tunelab.report.flowchart import build_steps
from tunelab.report.loader import load_compare, load_run
from tunelab.report.records import CLASSIFICATION_OBJECTIVE

from .conftest import make_compare_dir, make_run_dir, png_from_data_uri
from .lm_dirs import VAL_LOSSES, make_lm_compare_dir, make_lm_run_dir
from .test_render import _has_section, _headings, assert_images_are_pngs, assert_self_contained
from .test_screenshot import assert_not_blank, needs_chromium

STAR = (245, 159, 0)  # the best-checkpoint star's colour (#f59f00)


def visible_text(html: str) -> str:
    """The page's words: no CSS, no tags, no base64 figure data (which spells anything)."""
    html = re.sub(r"<style>.*?</style>", " ", html, flags=re.S)
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", " ", html)
    return re.sub(r"<[^>]+>", " ", html)


def assert_no_classification(html: str) -> None:
    text = visible_text(html).lower()
    for word in ("accuracy", "f1", "macro", "confusion", "per-class", "classes"):
        assert word not in text, word


def _curves_uri(html: str) -> str:
    tag = re.search(r'<img[^>]*alt="learning curves"[^>]*>', html)
    assert tag is not None
    return re.search(r'src="([^"]+)"', tag.group(0)).group(1)


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lm_run_dir(tmp_path_factory.mktemp("lm") / "run", "lora")


@pytest.fixture(scope="module")
def lm_report(lm_run: Path) -> str:
    return write_report(lm_run).read_text()


def test_lm_run_report_shows_its_own_metrics(lm_run: Path, lm_report: str) -> None:
    assert _headings(lm_report) == ["1Process", "2Layers", "3Learning curves", "4Data"]
    cards = dict(re.findall(r'class="label">([^<]+)</div><div class="value">([^<]+)<', lm_report))
    test = json.loads((lm_run / "metrics.json").read_text())["test"]
    assert cards["test perplexity"] == f"{test['perplexity']:.3f}"
    assert "accuracy" not in " ".join(cards)
    assert "lower is better" in visible_text(lm_report)
    assert "the star marks the lowest\n    validation loss" in lm_report
    assert_no_classification(lm_report)
    assert_self_contained(lm_report)
    # layer diagram, learning curves, length histogram: no class balance, no confusion
    assert assert_images_are_pngs(lm_report) == 3


@needs_chromium
def test_lm_report_screenshot_is_not_blank(lm_run: Path, lm_report: str, tmp_path: Path) -> None:
    assert_not_blank(screenshot.render_screenshot(lm_run / "report.html", tmp_path / "lm.png"))


def test_lm_learning_curves_star_the_lowest_loss(lm_report: str) -> None:
    image = np.asarray(png_from_data_uri(_curves_uri(lm_report)).convert("RGB"))
    star = np.all(image == STAR, axis=-1)
    assert star.any(), "no best-checkpoint star drawn"
    width = image.shape[1]
    columns = np.nonzero(star.any(axis=0))[0]
    # two panels, loss then perplexity: the monitored loss carries the star
    assert columns.max() < width / 2
    xs = [1.0, 2.0, 3.0, 4.0]
    assert run_figures.best_point(xs, list(VAL_LOSSES), "min") == (3.0, VAL_LOSSES[2])
    assert run_figures.best_point(xs, list(VAL_LOSSES), "max") == (1.0, VAL_LOSSES[0])
    assert run_figures.best_point(xs, [None, 0.5, 0.5, None], "max") == (2.0, 0.5)


def test_lm_flowchart_and_records(tmp_path: Path) -> None:
    run = load_run(make_lm_run_dir(tmp_path / "run"))
    assert run.metrics.task == "causal_lm"
    assert run.metrics.objective.monitored.mode == "min"
    assert [m.name for m in run.metrics.objective.table] == ["perplexity", "loss"]
    assert run.history is not None and run.history[0].val.keys() == {"loss", "perplexity"}
    lines = {step.title: " | ".join(step.lines) for step in build_steps(run)}
    assert re.search(r"test perplexity \d+\.\d{3}, loss 2\.\d{3}", lines["evaluation"])
    assert "classes" not in lines["data"] and "head" not in lines["model"]
    assert "max 512 tokens" in lines["model"]


def test_lm_compare_table_uses_the_objective(tmp_path: Path) -> None:
    root = make_lm_compare_dir(tmp_path / "cmp")
    html = write_report(root).read_text()
    header = re.search(r"<thead><tr><th>strategy</th>.*?</tr></thead>", html, re.S).group(0)
    columns = re.findall(r"<th[^>]*>([^<]+)</th>", header)
    assert columns[:4] == ["strategy", "seeds", "perplexity", "loss"]
    table = re.search(r'<section id="comparison">.*?</table>', html, re.S).group(0)
    best = {}
    for row in re.findall(r"<tr(?: class=\"rec\")?>\s*<td class=\"label\">.*?</tr>", table, re.S):
        name = re.search(r'<td class="label">(\w+)', row).group(1)
        best[name] = len(re.findall(r'<td class="best">', row))
    assert best == {"lora": 0, "full": 2, "scratch": 0}  # lowest perplexity and loss
    summary = json.loads((root / "summary.json").read_text())
    gain = summary["transfer_gain"]["gain"]
    assert gain > 0 and f"Transfer gain {gain:+.3f} loss" in html
    assert "lower loss than scratch" in html
    assert_no_classification(html)
    assert_images_are_pngs(html)
    compare = load_compare(root)
    assert compare.transfer_gain is not None and compare.transfer_gain.best_strategy == "full"


def test_run_without_recorded_objective_renders_as_classification(tmp_path: Path) -> None:
    root = make_run_dir(tmp_path / "old")
    metrics = json.loads((root / "metrics.json").read_text())
    del metrics["objective"], metrics["task"]
    (root / "metrics.json").write_text(json.dumps(metrics))
    run = load_run(root)
    assert run.metrics.objective == CLASSIFICATION_OBJECTIVE
    assert run.metrics.task == "text_classification"  # from config.yaml
    html = write_report(root).read_text()
    assert "test macro-F1" in html and "test accuracy" in html
    assert _has_section(html, "Confusion matrix")


def test_compare_summary_without_objective_falls_back(tmp_path: Path) -> None:
    root = make_compare_dir(tmp_path / "old", ("top_k", "scratch"))
    summary = json.loads((root / "summary.json").read_text())
    del summary["objective"], summary["transfer_gain"]["metric"]
    (root / "summary.json").write_text(json.dumps(summary))
    compare = load_compare(root)
    gain = compare.transfer_gain
    assert gain is not None and gain.metric == "f1_macro" and gain.best is not None
    html = write_report(root).read_text()
    assert f"Transfer gain {gain.gain:+.3f} macro-F1" in html

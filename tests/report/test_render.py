"""write_report: one self-contained HTML page per run or compare directory."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from tunelab.errors import RunDirError
from tunelab.report import write_report

from .conftest import assert_nontrivial_png, make_compare_dir, make_run_dir

RUN_SECTIONS = ["Process", "Layers", "Learning curves", "Confusion matrix", "Data"]


def _headings(html: str) -> list[str]:
    """The text of every ``<h2>``, tags stripped."""
    return [re.sub(r"<[^>]+>", "", h).strip() for h in re.findall(r"<h2.*?</h2>", html, re.S)]


def _has_section(html: str, title: str) -> bool:
    return any(title in heading for heading in _headings(html))


def assert_self_contained(html: str) -> None:
    """No resource is fetched: no remote src/href, no script, stylesheet link or import."""
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, re.I)
    assert not re.search(r"<script|<link|@import|url\(\s*['\"]?https?:", html, re.I)
    assert "http://" not in html and "https://" not in html


def assert_images_are_pngs(html: str) -> int:
    """Every ``<img>`` is an embedded PNG that decodes to a real picture; returns the count."""
    tags = re.findall(r"<img\b[^>]*>", html)
    for tag in tags:
        uri = re.search(r'src="([^"]+)"', tag).group(1)
        assert_nontrivial_png(uri)
    return len(tags)


def test_run_report(run_report: Path) -> None:
    assert run_report.name == "report.html" and (run_report.parent / "metrics.json").is_file()
    html = run_report.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>")
    assert "<h1>all-MiniLM-L6-v2 · top_k</h1>" in html
    for title in RUN_SECTIONS:
        assert _has_section(html, title), title
    assert not _has_section(html, "Comparison")
    assert_self_contained(html)
    # layer diagram, learning curves, confusion matrix, class balance, text lengths
    assert assert_images_are_pngs(html) == 5
    assert html.count("<svg") == 1  # the flowchart


def test_run_report_header_numbers(run_report: Path) -> None:
    html = run_report.read_text()
    assert "test accuracy" in html and "test macro-F1" in html
    assert "3.6M" in html and "of 22.4M (15.9%)" in html
    assert "top_k (k=2)" in html  # flowchart box


def test_compare_report(compare_report: Path) -> None:
    html = compare_report.read_text()
    for title in ["Comparison", *RUN_SECTIONS]:
        assert _has_section(html, title), title
    assert_self_contained(html)
    # tradeoff, overlay curves, and per strategy: layers, curves, confusion; plus 2 data plots
    assert assert_images_are_pngs(html) == 2 + 4 * 3 + 2
    assert html.count("<svg") == 4  # one flowchart per strategy


def test_compare_report_table_flags_and_gain(compare_report: Path) -> None:
    html = compare_report.read_text()
    rows = re.findall(r"<tr class=\"rec\">.*?</tr>", html, re.S)
    assert len(rows) == 1 and "top_k" in rows[0] and "recommended" in rows[0]
    summary = json.loads((compare_report.parent / "summary.json").read_text())
    gain = summary["transfer_gain"]["gain"]
    assert f"Transfer gain {gain:+.3f} macro-F1" in html
    assert "overfitting" in html and "val_loss = 0.59" in html
    assert "catastrophic forgetting" in html and "probe_after = 0.43" in html
    assert "F1 vs train time" not in html  # plot titles live in the PNG, not the page
    assert "± " in html  # two seeds: mean ± std


def test_missing_optional_files_skip_sections(tmp_path: Path) -> None:
    omit = ("history.jsonl", "layers.json", "data_summary.json")
    html = write_report(make_run_dir(tmp_path / "bare", omit=omit)).read_text()
    assert _has_section(html, "Process") and _has_section(html, "Confusion matrix")
    for title in ("Layers", "Learning curves", "Data"):
        assert not _has_section(html, title), title
    assert assert_images_are_pngs(html) == 1  # only the confusion matrix


def test_metrics_only_run_dir(tmp_path: Path) -> None:
    omit = ("config.yaml", "history.jsonl", "layers.json", "data_summary.json")
    html = write_report(make_run_dir(tmp_path / "min", omit=omit)).read_text()
    assert "config.yaml not found" in html
    assert_self_contained(html)


def test_bare_metrics_json_still_renders(tmp_path: Path) -> None:
    (tmp_path / "metrics.json").write_text('{"strategy": "full"}')
    html = write_report(tmp_path).read_text()
    assert _headings(html) == ["1Process"]
    assert "<h1>model · full</h1>" in html
    assert_self_contained(html)


def test_summary_without_runs_still_renders(tmp_path: Path) -> None:
    summary = {
        "strategies": [{"strategy": "top_k", "run_dirs": ["runs/top_k-seed0"]}],
        "flags": [
            {
                "kind": "negative_transfer",
                "strategy": "top_k",
                "message": "worse than scratch",
                "numbers": {"gain": -0.021, "significant": True},
            }
        ],
    }
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    html = write_report(tmp_path).read_text()
    assert _headings(html) == ["1Comparison"]
    assert "gain = -0.021" in html and "significant = True" in html
    assert_images_are_pngs(html)


def test_compare_with_missing_runs_and_files(tmp_path: Path) -> None:
    root = make_compare_dir(tmp_path / "cmp", ("top_k", "full"), omit=("layers.json",))
    (root / "runs" / "full-seed0" / "metrics.json").unlink()
    html = write_report(root).read_text()
    assert _has_section(html, "Comparison") and not _has_section(html, "Layers")
    assert html.count("<svg") == 1  # only top_k's run could be read
    assert_images_are_pngs(html)


def test_not_a_run_dir_raises(tmp_path: Path) -> None:
    with pytest.raises(RunDirError):
        write_report(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_custom_output_file_and_directory(run_dir: Path, tmp_path: Path) -> None:
    target = write_report(run_dir, tmp_path / "out" / "r.html")
    assert target == tmp_path / "out" / "r.html" and target.is_file()
    into_dir = write_report(run_dir, tmp_path / "out")
    assert into_dir == tmp_path / "out" / "report.html"


def test_atomic_write_leaves_no_temp_files(run_dir: Path) -> None:
    before = set(os.listdir(run_dir))
    write_report(run_dir)
    write_report(run_dir)  # overwriting goes through a temp file too
    assert set(os.listdir(run_dir)) - before == {"report.html"}


def test_failed_write_keeps_old_report_and_cleans_up(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_report(run_dir)
    old = (run_dir / "report.html").read_text()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_report(run_dir)
    assert (run_dir / "report.html").read_text() == old
    assert not [name for name in os.listdir(run_dir) if name.endswith(".tmp")]

"""The process flowchart: each box carries this run's choices, drawn as inline SVG."""

from __future__ import annotations

import re
from pathlib import Path

from tunelab.report.flowchart import FlowStep, build_steps, flowchart_svg
from tunelab.report.loader import load_run

from .conftest import make_run_dir


def _lines(run_dir: Path) -> dict[str, str]:
    return {step.title: " | ".join(step.lines) for step in build_steps(load_run(run_dir))}


def test_steps_describe_the_run(run_dir: Path) -> None:
    lines = _lines(run_dir)
    assert list(lines) == [
        "data",
        "model",
        "strategy",
        "tuning",
        "training",
        "evaluation",
        "export",
    ]
    assert "builtin:chatterbot-topics" in lines["data"]
    assert "1,204 train" in lines["data"] and "6 classes" in lines["data"]
    assert "all-MiniLM-L6-v2 | pre-trained weights" in lines["model"]
    assert "top_k (k=2)" in lines["strategy"]
    assert "3.6M of 22.4M trainable (15.9%)" in lines["strategy"]
    assert "AdamW lr 5e-5, head lr 0.001" in lines["tuning"]
    assert "linear schedule, warmup 10%" in lines["tuning"]
    assert "early stopping on f1_macro, patience 3" in lines["training"]
    assert "best epoch 3" in lines["training"]
    assert re.search(r"test accuracy 0\.\d{3}, macro-F1 0\.\d{3}", lines["evaluation"])
    assert "latency p50 4.1 ms" in lines["evaluation"]


def test_strategy_options_follow_the_strategy(tmp_path: Path) -> None:
    gradual = _lines(make_run_dir(tmp_path / "g", "gradual_unfreeze"))
    assert "gradual_unfreeze (1 more group every epoch)" in gradual["strategy"]
    lora = _lines(make_run_dir(tmp_path / "l", "lora"))
    assert "lora (r=8, α=16, dropout 0.05)" in lora["strategy"]
    assert "LoRA adapter + head" in lora["export"]
    scratch = _lines(make_run_dir(tmp_path / "s", "scratch"))
    assert "random init (from scratch)" in scratch["model"]


def test_steps_without_optional_files(tmp_path: Path) -> None:
    omit = ("config.yaml", "data_summary.json", "layers.json", "history.jsonl")
    lines = _lines(make_run_dir(tmp_path / "bare", omit=omit))
    assert lines["tuning"] == "config.yaml not found"
    assert "6 classes" in lines["data"]  # from the test labels in metrics.json


def test_svg_has_one_box_per_step_and_arrows_between(run_dir: Path) -> None:
    svg = flowchart_svg(build_steps(load_run(run_dir)), uid="run 1")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<rect") == 7
    assert svg.count('marker-end="url(#run-1-arrow)"') == 6
    assert 'id="run-1-arrow"' in svg
    assert "http" not in svg  # no xmlns or other URL: the page stays self-contained


def test_svg_escapes_text() -> None:
    svg = flowchart_svg([FlowStep("data", ["<script>alert(1)</script> & more"])])
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg and "&amp; more" in svg


def test_long_lines_wrap_inside_the_box() -> None:
    long_line = "a very long data source path " * 6
    svg = flowchart_svg([FlowStep("data", [long_line])], width=1120, columns=4)
    assert svg.count("<tspan") >= 4

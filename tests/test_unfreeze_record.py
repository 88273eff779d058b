"""Gradual unfreezing is drawn as it happened, not as planned (issue 16 item 11).

The run records in ``layers.json`` when each group actually unfroze; the layer diagram
and its caption show that, and the console says which group unfroze when.
"""

from __future__ import annotations

import json
import math

import pytest
from rich.console import Console

import tunelab
from tunelab.config import validate_config
from tunelab.layers import LayerGroup
from tunelab.report import run_figures
from tunelab.report.loader import load_run
from tunelab.report.render import render_html
from tunelab.strategies.base import GroupPlan
from tunelab.summary import print_groups

TRAIN_EXAMPLES = 72  # tiny_csv: 120 texts, 20% validation and 20% test held out


@pytest.fixture
def gradual_run(tiny_config, tmp_path):
    tiny_config["strategy"] = {"name": "gradual_unfreeze"}
    return tunelab.fine_tune(tiny_config, tmp_path / "run")


def _groups(run_dir) -> dict[str, dict]:
    layers = json.loads((run_dir / "layers.json").read_text())
    return {row["name"]: row for row in layers["groups"]}


def test_a_group_that_unfroze_is_recorded_and_drawn_trained(gradual_run) -> None:
    steps_per_epoch = math.ceil(TRAIN_EXAMPLES / 8)
    groups = _groups(gradual_run.run_dir)
    # 2 epochs: layer.1 joins at epoch 2, layer.0 and the embeddings would have at 3 and 4
    assert groups["layer.1"]["state"] == "trained"
    assert groups["layer.1"]["unfrozen_at"] == {"epoch": 1, "step": steps_per_epoch}
    for name in ("layer.0", "embeddings"):
        assert groups[name]["state"] == "frozen"
        assert groups[name]["unfrozen_at"] is None
    assert "unfrozen_at" not in groups["head"]  # trains from the start: nothing to record

    plan = load_run(gradual_run.run_dir).layers
    notes = {g.name: run_figures._layer_detail(g) for g in plan.groups}
    assert notes["layer.1"].endswith(f"trained from epoch 2 (after step {steps_per_epoch})")
    assert notes["layer.0"] == "never unfrozen (planned for epoch 3)"
    assert "drawn as the run ended" in render_html(load_run(gradual_run.run_dir))


def test_step_unfreezing_is_recorded_at_its_step(tiny_config, tmp_path) -> None:
    tiny_config["strategy"] = {"name": "gradual_unfreeze", "unfreeze_every_steps": 3}
    tiny_config["train"]["epochs"] = 1  # 9 steps: layer.1 after 3, layer.0 after 6
    groups = _groups(tunelab.fine_tune(tiny_config, tmp_path / "run").run_dir)
    assert groups["layer.1"]["unfrozen_at"] == {"epoch": 0, "step": 3}
    assert groups["layer.0"]["unfrozen_at"] == {"epoch": 0, "step": 6}
    assert groups["layer.0"]["state"] == "trained"  # the plan said "frozen → ep 3"
    assert groups["embeddings"]["unfrozen_at"] is None  # due after step 9, the last one


def test_the_console_table_shows_the_planned_step_and_says_it_is_a_plan() -> None:
    cfg = validate_config(
        {"strategy": {"name": "gradual_unfreeze", "unfreeze_every_steps": 5}, "data": {}}
    )
    groups = [LayerGroup("layer.0"), LayerGroup("head")]
    plans = [GroupPlan("frozen", unfreeze_epoch=1, unfreeze_step=5), GroupPlan("trained")]
    console = Console(record=True, width=120)
    print_groups(console, groups, plans, cfg)
    text = console.export_text()
    assert "frozen → step 6" in text and "→ ep" not in text
    assert "planned unfreezing" in text


def test_a_run_without_a_record_is_captioned_as_the_plan() -> None:
    from tunelab.report.records import LayerGroup as Row
    from tunelab.report.records import LayerPlan

    rows = [Row("layer.0", 10, "frozen", 1.0, 0.0, 1), Row("head", 2, "trained", 1.0, 1e-3, 0)]
    caption = run_figures.layer_caption(LayerPlan("gradual_unfreeze", rows, 2, 12))
    assert caption is not None and "drawn from the plan" in caption
    assert run_figures.layer_caption(LayerPlan("full", rows[1:], 2, 2)) is None

"""compare() on the tiny model: one split, all runs, summary, skip-on-rerun, report."""

from __future__ import annotations

import json

import pytest

from tunelab.comparison import compare, run_config
from tunelab.config import load_config
from tunelab.errors import ConfigError


def test_scratch_is_full_from_random_weights(tiny_config):
    base = load_config(base=tiny_config)
    scratch = run_config(base, "scratch", 1)
    assert (scratch.strategy.name, scratch.model.pretrained) == ("full", False)
    assert scratch.train.seed == base.train.seed + 1
    assert scratch.data == base.data  # same split for every run


def test_a_run_config_is_what_its_run_resolves_so_a_finished_run_is_skipped(tiny_config, tmp_path):
    """contrastive presets ``model.head.normalize`` where the config leaves it unset; the
    run saves it set, and compare skips a finished run only when the two are equal."""
    cfg = run_config(load_config(base=tiny_config), "contrastive", 0)
    assert cfg.model.head.normalize is True
    cfg.save(tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg


def test_compare_writes_summary_and_skips_finished_runs(tiny_config, tmp_path):
    tiny_config["train"]["epochs"] = 1
    out = tmp_path / "cmp"
    result = compare(
        tiny_config,
        ["feature_extraction", "top_k", "scratch"],
        seeds=2,
        output_dir=out,
        report=False,
    )
    rows = {r["strategy"]: r for r in result.summary["strategies"]}
    assert set(rows) == {"feature_extraction", "top_k", "scratch"}
    assert all(r["n_seeds"] == 2 for r in rows.values())
    assert rows["feature_extraction"]["trainable_params"] < rows["top_k"]["trainable_params"]
    assert rows["scratch"]["trainable_params"] == rows["scratch"]["total_params"]
    assert "cka" in rows["top_k"] and 0.0 <= rows["top_k"]["cka"] <= 1.0 + 1e-6
    gain = result.summary["transfer_gain"]
    assert gain["gain"] == pytest.approx(gain["best_f1_macro"] - gain["scratch_f1_macro"])
    assert result.summary["recommendation"]["strategy"] in {"feature_extraction", "top_k"}
    assert (out / "summary.csv").read_text().count("\n") == 4
    saved = json.loads((out / "summary.json").read_text())
    assert saved["strategies"] == json.loads(json.dumps(result.summary["strategies"]))

    stamp = (out / "runs" / "top_k-seed0" / "metrics.json").stat().st_mtime_ns
    again = compare(
        tiny_config,
        ["feature_extraction", "top_k", "scratch"],
        seeds=2,
        output_dir=out,
        report=False,
    )
    assert (out / "runs" / "top_k-seed0" / "metrics.json").stat().st_mtime_ns == stamp
    assert again.summary["strategies"] == result.summary["strategies"]


def test_compare_rejects_unknown_strategy(tiny_config, tmp_path):
    with pytest.raises(ConfigError, match="'magic' is not available for task"):
        compare(tiny_config, ["top_k", "magic"], output_dir=tmp_path / "c")


def test_flags_a_run_raised_about_itself_are_listed(tmp_path):
    import json

    from tunelab.comparison import _run_flags

    run = tmp_path / "lora-seed0"
    run.mkdir()
    flag = {"kind": "catastrophic_forgetting", "strategy": "lora", "message": "rose 30%"}
    (run / "metrics.json").write_text(json.dumps({"flags": [{**flag, "numbers": {}}]}))
    (found,) = _run_flags({"lora": [run]})
    assert (found.kind, found.strategy, found.message) == tuple(flag.values())

"""compare and search: one parent MLflow run with a child run per strategy / trial."""

from __future__ import annotations

import pytest

from tests.hpsearch.conftest import search_config
from tests.tracking.conftest import all_runs, mlflow_client
from tunelab.comparison import compare
from tunelab.hpsearch import search


def _tree(client) -> tuple[object, list]:
    runs = all_runs(client)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == len(runs) - 1  # every other run is its child
    return parent, children


def test_compare_is_one_parent_run_with_a_child_per_strategy(tiny_config, tmp_path, store_in):
    tiny_config["train"].update(epochs=1, report_to="mlflow")
    out = tmp_path / "cmp"
    store_in(out)
    result = compare(tiny_config, ["feature_extraction", "top_k"], output_dir=out, report=False)

    client = mlflow_client(out)
    parent, children = _tree(client)
    assert (parent.info.run_name, parent.data.tags["tunelab.kind"]) == ("cmp", "compare")
    assert parent.info.status == "FINISHED"
    assert sorted(c.info.run_name for c in children) == ["feature_extraction-seed0", "top_k-seed0"]
    assert {c.data.params["strategy.name"] for c in children} == {"feature_extraction", "top_k"}
    assert all(c.info.status == "FINISHED" and "val_f1_macro" in c.data.metrics for c in children)
    rows = {r["strategy"]: r for r in result.summary["strategies"]}
    top_k = rows["top_k"]["f1_macro_mean"]
    assert parent.data.metrics["top_k.f1_macro_mean"] == pytest.approx(top_k)
    files = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"summary.json", "summary.csv"} <= files

    compare(tiny_config, ["feature_extraction", "top_k"], output_dir=out, report=False)
    assert len(all_runs(client)) == 3  # a re-run skips finished runs and reuses the parent


def test_search_is_one_parent_run_with_a_child_per_trial(tiny_config, tmp_path, store_in):
    """Trials run in subprocess workers: they find the parent through the environment."""
    tiny_config["train"].update(epochs=1, report_to=["mlflow"])
    out = tmp_path / "search"
    store_in(out)
    config = search_config(tiny_config, trials=2, isolation="subprocess", pruner="none")
    result = search(config, output_dir=out, report=False)

    client = mlflow_client(out)
    parent, children = _tree(client)
    assert (parent.info.run_name, parent.data.tags["tunelab.kind"]) == ("search", "search")
    assert sorted(c.info.run_name for c in children) == ["trial-0", "trial-1"]
    values = {f"trial-{r['number']}.value": r["value"] for r in result.trials}
    assert {k: parent.data.metrics[k] for k in values} == pytest.approx(values)
    assert parent.data.metrics["best_value"] == pytest.approx(max(values.values()))
    for child in children:
        value = values[f"{child.info.run_name}.value"]
        assert child.data.metrics["val_f1_macro"] == pytest.approx(value)
    assert "trials.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}

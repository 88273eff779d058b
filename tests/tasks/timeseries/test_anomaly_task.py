"""anomaly_detection end to end on a tiny random-init PatchTST directory."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import tunelab
from tests.tasks.timeseries.conftest import make_anomalous
from tunelab.errors import ConfigError, DataError
from tunelab.evaluation import evaluate_run
from tunelab.tasks import get_task
from tunelab.tasks.timeseries import anomaly_scores
from tunelab.tasks.timeseries.anomaly_data import read_stream, scoring_origins
from tunelab.tasks.timeseries.config import AnomalyDataConfig

DETECTION = {"precision", "recall", "f1", "pa_precision", "pa_recall", "pa_f1", "pr_auc"}
SPIKES = (100, 101, 102, 130)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("anomaly")
    make_anomalous(200).to_csv(root / "train.csv", index=False)
    make_anomalous(160, seed=1, at=SPIKES).to_csv(root / "test.csv", index=False)
    return root / "train.csv", root / "test.csv"


def _config(model_dir, files, strategy="full", **anomaly):
    return {
        "task": "anomaly_detection",
        "model": {"name": str(model_dir)},
        "data": {"train": str(files[0]), "test": str(files[1])},
        "anomaly": anomaly,
        "strategy": {"name": strategy},
        "train": {"epochs": 1, "batch_size": 32, "device": "cpu", "seed": 0},
    }


def test_run_records_detection_scores_for_the_model_and_each_baseline(
    tiny_patchtst, files, tmp_path
):
    result = tunelab.fine_tune(_config(tiny_patchtst, files), tmp_path / "run")
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    test = metrics["test"]
    assert DETECTION | {"error", "threshold"} <= set(test)
    for method in ("rolling_zscore", "naive"):
        assert {f"{method}_{m}" for m in DETECTION} <= set(test)
        assert metrics["baselines"][method]["test"]["f1"] == test[f"{method}_f1"]
    # a +4 spike on a unit sine is four standard deviations from its window's mean
    assert test["rolling_zscore_recall"] == 1.0 and test["rolling_zscore_pr_auc"] > 0.5
    summary = json.loads((result.run_dir / "data_summary.json").read_text())["anomaly"]
    assert summary["test_anomalous_points"] == 4 and summary["test_segments"] == 2
    assert summary["validation_points"] == 40


def test_reload_flags_what_the_run_flagged_and_evaluate_matches_test(
    tiny_patchtst, files, tmp_path
):
    run = tunelab.fine_tune(_config(tiny_patchtst, files), tmp_path / "run")
    predictor = tunelab.load(run.run_dir)
    series = make_anomalous(160, seed=1, at=SPIKES)["value"].tolist()
    first = predictor.predict(series)[0].to_dict()
    assert len(first["scores"]) == 160 and first["threshold"] == run.metrics["test"]["threshold"]
    assert first == tunelab.load(run.run_dir).predict(series)[0].to_dict()
    assert first["scores"][:8] == [0.0] * 8  # too little past to judge: not scored
    scored = evaluate_run(run.run_dir, str(files[1]))
    assert scored["f1"] == pytest.approx(run.metrics["test"]["f1"])
    assert scored["flagged"] == run.metrics["test"]["flagged"] == len(first["anomalies"])
    records = get_task("anomaly_detection").read_inputs(run.run_dir, ["1,2,3,4", "1"], None)
    out = predictor.predict_records(records)
    assert len(out[0]["scores"]) == 4 and "at least two" in out[1]["error"]


@pytest.mark.parametrize("strategy", ["feature_extraction", "lora", "gradual_unfreeze"])
def test_strategies_run(strategy, tiny_patchtst, files, tmp_path):
    result = tunelab.fine_tune(_config(tiny_patchtst, files, strategy), tmp_path / "run")
    assert 0.0 <= result.metrics["test"]["f1"] <= 1.0


def test_the_model_scores_the_validation_stream_once_per_run(
    tiny_patchtst, files, tmp_path, monkeypatch
):
    """Its scores serve three readers at the end of a run (the report's threshold, the
    predictor's detection card, the saved card): one pass of the model over it."""
    task = get_task("anomaly_detection")
    prepared = []
    prepare = type(task).prepare_data

    def kept(self, cfg):
        prepared.append(prepare(self, cfg))
        return prepared[-1]

    monkeypatch.setattr(type(task), "prepare_data", kept)
    passes, forwards = [], []
    score = anomaly_scores.model_scores

    def counted(model, stream, *args, **kwargs):
        if stream is not prepared[0].validation_stream:
            return score(model, stream, *args, **kwargs)
        passes.append(stream)
        hook = model.register_forward_hook(lambda *_: forwards.append(stream))
        try:
            return score(model, stream, *args, **kwargs)
        finally:
            hook.remove()

    monkeypatch.setattr(anomaly_scores, "model_scores", counted)
    run = tunelab.fine_tune(_config(tiny_patchtst, files), tmp_path / "run")
    splits = prepared[0]
    stream = splits.validation_stream
    origins = scoring_origins(len(stream.values), stream.start, stream.end, splits.context,
                              splits.score, splits.horizon)  # fmt: skip
    assert len(passes) == 1
    assert len(forwards) == math.ceil(len(origins) / 256)  # model_scores' batch size
    card = json.loads((run.run_dir / "model" / "tunelab_model.json").read_text())
    assert card["detection"]["threshold"] == run.metrics["test"]["threshold"]


def test_reconstruction_scores_with_a_contamination_threshold(tiny_mixer, files, tmp_path):
    cfg = _config(tiny_mixer, files, score="reconstruction", threshold="contamination",
                  contamination=0.05, baselines=[])  # fmt: skip
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    # the top 5% of 160 points are flagged, whatever the scores' scale
    assert result.metrics["test"]["flagged"] == 8
    predictor = tunelab.load(result.run_dir)
    assert len(predictor.predict(list(np.sin(np.arange(64.0))))[0].anomalies) == 4


def test_without_a_test_file_the_end_of_train_is_the_test_part(tiny_patchtst, tmp_path):
    make_anomalous(300, at=(280, 281)).to_csv(tmp_path / "one.csv", index=False)
    cfg = _config(tiny_patchtst, (tmp_path / "one.csv", None))
    del cfg["data"]["test"]
    cfg["data"]["test_fraction"] = 0.2
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())["anomaly"]
    assert summary["test_points"] == 60 and summary["test_anomalous_points"] == 2


def test_a_validation_file_is_the_validation_part(tiny_patchtst, files, tmp_path):
    make_anomalous(90, seed=2).to_csv(tmp_path / "validation.csv", index=False)
    cfg = _config(tiny_patchtst, files)
    cfg["data"]["validation"] = str(tmp_path / "validation.csv")
    cfg["train"]["max_steps"] = 2
    result = tunelab.fine_tune(cfg, tmp_path / "run")
    summary = json.loads((result.run_dir / "data_summary.json").read_text())["anomaly"]
    assert summary["validation_points"] == 90


def test_bad_config_and_data_are_one_line_errors(tiny_patchtst, files, tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'anomaly.treshold'"):
        tunelab.fine_tune(_config(tiny_patchtst, files, treshold="contamination"))
    normal = tmp_path / "normal.csv"
    make_anomalous(100).to_csv(normal, index=False)
    with pytest.raises(DataError, match="no labelled anomaly"):
        tunelab.fine_tune(_config(tiny_patchtst, (files[0], normal)), tmp_path / "a")
    make_anomalous(100).drop(columns="is_anomaly").to_csv(normal, index=False)
    with pytest.raises(DataError, match="no column 'is_anomaly'.*data.label_column"):
        tunelab.fine_tune(_config(tiny_patchtst, (files[0], normal)), tmp_path / "b")


def test_reads_the_kdd_tsad_set_aeon_ships():
    pytest.importorskip("aeon", reason="pip install --no-deps aeon==1.6.0 ships KDD-TSAD_135")
    cfg = AnomalyDataConfig()
    values, labels, missing = read_stream("builtin:KDD-TSAD_135_TEST", "data.test", cfg, True)
    assert len(values) == 7501 and int(labels.sum()) == 12 and missing == 0
    train, train_labels, _ = read_stream("builtin:KDD-TSAD_135_TRAIN", "data.train", cfg, False)
    assert len(train) == 1200 and not train_labels.any()
    np.testing.assert_array_equal(train, values[:1200])  # the archive's test file repeats train

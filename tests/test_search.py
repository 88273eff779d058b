"""``tunelab search``: space validation, pruning, resume, shared studies, killed trials, memory.

Searches run on the tiny random BERT; the multi-process tests start real ``tunelab``
processes on one SQLite study, as users on several machines would on PostgreSQL.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import FixedTrial, TrialState
from typer.testing import CliRunner

import tunelab.hpsearch as search_module
from tunelab.cli import app
from tunelab.config import Config, load_config
from tunelab.errors import ConfigError
from tunelab.hpsearch import OptunaPruning, counted_trials, search
from tunelab.search_space import apply_params, baseline_params, default_space, parse_space

runner = CliRunner()
FAST_SPACE = {
    "strategy.name": {"choice": ["feature_extraction", "top_k"]},
    "train.head_lr": {"log_uniform": ["1e-3", "3e-2"]},  # YAML 1.1 strings, as users write them
    "strategy.k": {"int": [1, 2], "when": {"strategy.name": "top_k"}},
}


@pytest.fixture(autouse=True)
def _one_thread_per_process(monkeypatch):
    """Tiny models on a shared CPU: one thread per process avoids oversubscription stalls."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # for the tunelab processes tests start
    yield
    torch.set_num_threads(before)


@pytest.fixture
def processes():
    """Started ``tunelab`` processes; any still running when a test ends is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _search_config(tiny_config: dict, **search: object) -> dict:
    return {**tiny_config, "search": {"space": FAST_SPACE, "isolation": "inprocess", **search}}


def _write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _study(out: Path) -> optuna.Study:
    return optuna.load_study(study_name=out.name, storage=f"sqlite:///{out / 'study.db'}")


# ------------------------------------------------------------------------ the space
@pytest.mark.parametrize(
    ("space", "fragment"),
    [
        ({"train.lr_rate": {"uniform": [0.1, 0.2]}}, "unknown config key 'train.lr_rate'"),
        ({"train.lr": {"log_uniform": [1e-3, 1e-5]}}, "inverted"),
        ({"train.batch_size": {"choice": []}}, "non-empty list"),
        ({"train.lr": {"log_uniform": [0.0, 1e-3]}}, "low > 0"),
        ({"train.epochs": {"int": [1.5, 4]}}, "must be integers"),
        ({"model.head": {"choice": [1, 2]}}, "is a section"),
        ({"train.lr": {"loguniform": [1e-5, 1e-3]}}, "unknown option 'loguniform'"),
        ({"model.head.dropout": {"uniform": [0.0, 1.0]}}, "model.head.dropout = 1.0"),
        ({"strategy.name": {"choice": ["top_k", "magic"]}}, "'magic'"),
        ({"strategy.k": {"int": [1, 3], "when": {"strategy.nme": "top_k"}}}, "strategy.nme"),
        ({"search.trials": {"int": [1, 3]}}, "its own settings"),
    ],
    ids=[
        "unknown-key",
        "inverted",
        "empty-choice",
        "log-zero",
        "int-float",
        "section",
        "unknown-kind",
        "config-rejects",
        "bad-choice",
        "bad-when",
        "search-key",
    ],
)
def test_bad_space_is_one_clear_error(space, fragment):
    with pytest.raises(ConfigError, match="search.space") as err:
        parse_space(Config.model_validate({"search": {"space": space}}))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_bad_space_on_the_cli_exits_2_and_writes_nothing(tiny_config, tmp_path):
    config = _search_config(tiny_config, space={"train.lr": {"log_uniform": [1e-3, 1e-5]}})
    out = tmp_path / "search"
    result = runner.invoke(app, ["search", str(_write(tmp_path, config)), "-o", str(out)])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and "inverted" in message
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))
        if "search" in yaml.safe_load(p.read_text())
    ],
    ids=lambda p: p.name,
)
def test_shipped_search_configs_have_valid_spaces_and_a_baseline(path):
    cfg = load_config(path)
    params = parse_space(cfg)
    fixed, why = baseline_params(cfg, params)
    assert fixed is not None, why


def test_default_space_follows_the_strategy():
    assert "train.lr" not in default_space("feature_extraction")
    assert "strategy.lora.r" in default_space("lora")
    params = parse_space(Config())  # empty space: the default one, valid for the config
    assert {p.key for p in params} >= {"train.lr", "train.head_lr", "train.batch_size"}


def test_values_conditions_and_nested_form():
    cfg = Config.model_validate(
        {
            "search": {
                "space": {
                    "strategy": {
                        "name": {"choice": ["feature_extraction", "top_k"]},
                        "k": {"int": [1, 3], "when": {"strategy.name": "top_k"}},
                    },
                    "model.head.hidden_sizes": {"choice": [[], [64]]},
                }
            }
        }
    )
    params = parse_space(cfg)
    assert [p.key for p in params][0] == "strategy.name", "a when-target is drawn first"
    fe = apply_params(
        cfg,
        params,
        FixedTrial({"strategy.name": "feature_extraction", "model.head.hidden_sizes": "[64]"}),
        "t",
    )
    assert fe.strategy.name == "feature_extraction" and fe.model.head.hidden_sizes == [64]
    top = apply_params(
        cfg,
        params,
        FixedTrial({"strategy.name": "top_k", "strategy.k": 3, "model.head.hidden_sizes": "[]"}),
        "t",
    )
    assert top.strategy.k == 3 and top.search == Config().search, "trials run without search"
    fixed, _ = baseline_params(cfg, params)
    assert fixed == {"strategy.name": "top_k", "strategy.k": 2, "model.head.hidden_sizes": "[]"}


def test_sampler_is_seeded_by_trial_number():
    def draws(seed: int, first_number: int) -> list[float]:
        study = optuna.create_study(sampler=search_module.TrialSeededSampler(seed, 4))
        for _ in range(first_number):  # other workers' trials take the first numbers
            study.enqueue_trial({"x": 0.5})
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=first_number + 3)
        return [t.params["x"] for t in study.trials[first_number:]]

    assert draws(0, 0) == draws(0, 0), "a search is reproducible"
    assert draws(0, 0) != draws(1, 0)
    assert draws(0, 2)[0] == draws(0, 0)[2], "trial 2 draws the same point in any process"


# ------------------------------------------------------------------------- pruning
class _FakeTrainer:
    def __init__(self, epoch: int, batch_in_epoch: int = 0) -> None:
        self.state = type("State", (), {"epoch": epoch, "batch_in_epoch": batch_in_epoch})()


def test_pruning_callback_reports_epochs_and_raises_when_pruned():
    study = optuna.create_study(
        direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2)
    )
    for value in (0.8, 0.9):  # two finished trials that were good after epoch 1
        study.add_trial(optuna.create_trial(value=value, intermediate_values={1: value}))
    trial = study.ask()
    callback = OptunaPruning(trial, "f1_macro")
    callback.on_evaluate(_FakeTrainer(epoch=0, batch_in_epoch=5), {"f1_macro": 0.1})
    assert study.trials[-1].intermediate_values == {}, "mid-epoch evaluations are not reported"
    with pytest.raises(optuna.TrialPruned, match="epoch 1"):
        callback.on_evaluate(_FakeTrainer(epoch=1), {"f1_macro": 0.2})
    good = OptunaPruning(study.ask(), "f1_macro")
    good.on_evaluate(_FakeTrainer(epoch=1), {"f1_macro": 0.95})  # above the median: goes on


class _PruneAfterBaseline(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return trial.number > 0


def test_pruned_trials_propagate_out_of_fine_tune_and_are_recorded(
    tiny_config, tmp_path, monkeypatch
):
    monkeypatch.setattr(search_module, "make_pruner", lambda settings: _PruneAfterBaseline())
    out = tmp_path / "search"
    result = search(_search_config(tiny_config, trials=3), output_dir=out)
    assert result.summary["trials"]["pruned"] == 2 and result.summary["trials"]["complete"] == 1
    states = {t.number: t.state for t in _study(out).trials}
    assert states == {0: TrialState.COMPLETE, 1: TrialState.PRUNED, 2: TrialState.PRUNED}
    status = json.loads((out / "trials" / "trial-1" / "status.json").read_text())
    assert status["state"] == "pruned" and "epoch 1" in status["reason"]


# ------------------------------------------------------------- search, outputs, resume
def test_search_writes_best_yaml_trials_csv_and_resumes(tiny_config, tmp_path):
    config = _write(tmp_path, _search_config(tiny_config, pruner="none"))
    out = tmp_path / "search"
    result = runner.invoke(app, ["search", str(config), "--trials", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "best config:" in result.output and "baseline" in result.output

    best = load_config(out / "best.yaml")  # loads and validates: runnable by tunelab run
    summary = json.loads((out / "search_summary.json").read_text())
    assert best.search == Config().search, "best.yaml carries no search section"
    assert summary["best"]["params"]["strategy.name"] == best.strategy.name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["number"] for r in rows] == ["0", "1", "2"]
    assert rows[0]["baseline"] == "True" and rows[0]["params_strategy.name"] == "top_k"
    assert summary["baseline"]["number"] == 0 and summary["trials"]["complete"] == 3
    html = (out / "search_report.html").read_text()
    assert html.count("<img") == 3 and "Parameter importances" in html

    result = runner.invoke(app, ["search", str(config), "--trials", "5", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "resuming with 3 trials done" in result.output
    assert [t.number for t in _study(out).trials] == [0, 1, 2, 3, 4]
    assert len(list(csv.DictReader((out / "trials.csv").open()))) == 5

    changed = _search_config(tiny_config, space={**FAST_SPACE, "train.epochs": {"int": [1, 2]}})
    with pytest.raises(ConfigError, match="different search .search.space differs"):
        search(changed, output_dir=out)


def test_feature_extraction_trials_share_one_backbone_pass(tiny_config, tmp_path):
    config = _search_config(
        tiny_config, trials=4, pruner="none", space={"train.head_lr": {"log_uniform": [1e-3, 3e-2]}}
    )
    config["strategy"] = {"name": "feature_extraction"}
    result = search(config, output_dir=tmp_path / "search")
    cache = result.summary["feature_cache"]
    assert cache["trials_computing_features"] == 1 and cache["trials_reusing_features"] == 3


def test_memory_stays_flat_over_20_inprocess_trials(tiny_config, tmp_path):
    config = _search_config(tiny_config, trials=20, pruner="none", baseline=False)
    config["train"]["epochs"] = 1
    result = search(config, output_dir=tmp_path / "search")
    proc = result.summary["this_process"]
    assert proc["trials_run"] == 20
    rss = proc["rss_mb_after_each_trial"]
    assert max(rss) <= 1.2 * rss[0], rss
    assert proc["peak_rss_mb_after_last_trial"] <= 1.2 * proc["peak_rss_mb_after_first_trial"]


# ------------------------------------------------------------------ several processes
def _tunelab(processes: list, *args: object) -> subprocess.Popen:
    command = [sys.executable, "-m", "tunelab.cli", *(str(a) for a in args)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    processes.append(proc)
    return proc


def _wait_for_running_trial(out: Path, timeout: float = 60.0) -> optuna.trial.FrozenTrial:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):  # the database or study may not exist yet
            for trial in _study(out).get_trials(states=(TrialState.RUNNING,)):
                if "worker" in trial.user_attrs:
                    return trial
        time.sleep(0.2)
    raise AssertionError("no trial started running")


def test_two_processes_finish_one_study_together(tiny_config, tmp_path, processes):
    config = _search_config(tiny_config, pruner="none")
    config["train"]["epochs"] = 3
    path, out = _write(tmp_path, config), tmp_path / "shared"
    out.mkdir()
    first = _tunelab(processes, "search", path, "--trials", 8, "-o", out)
    second = _tunelab(processes, "search", path, "--trials", 8, "-o", out)
    for proc in (first, second):
        output = proc.communicate(timeout=240)[0].decode()
        assert proc.returncode == 0, output
    trials = _study(out).trials
    assert counted_trials(trials) == 8 and len(trials) == 8
    assert all(t.state == TrialState.COMPLETE for t in trials)
    workers = {t.user_attrs["worker"] for t in trials}
    assert len(workers) == 2, "both processes ran trials of the one study"
    assert len({json.dumps(t.params, sort_keys=True) for t in trials}) >= 6, "distinct draws"


@pytest.mark.integration  # three tunelab processes: about 30 s
def test_a_killed_trial_worker_fails_and_is_retried_once(tiny_config, tmp_path, processes):
    config = _search_config(tiny_config, isolation="subprocess", pruner="none")
    config["train"]["epochs"] = 4
    out = tmp_path / "search"
    proc = _tunelab(processes, "search", _write(tmp_path, config), "--trials", 2, "-o", out)
    victim = _wait_for_running_trial(out)
    os.kill(int(victim.user_attrs["worker"].split(":")[1]), signal.SIGKILL)
    output = proc.communicate(timeout=240)[0].decode()
    assert proc.returncode == 0, output
    assert "killed by SIGKILL" in output
    trials = {t.number: t for t in _study(out).trials}
    assert trials[victim.number].state == TrialState.FAIL
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state == TrialState.COMPLETE and retry.params == victim.params
    assert counted_trials(list(trials.values())) == 2, "the killed try does not use the budget"


@pytest.mark.integration  # waits out a heartbeat grace period
def test_a_killed_search_leaves_a_stale_trial_the_next_run_fails_and_retries(
    tiny_config, tmp_path, processes
):
    config = _search_config(tiny_config, pruner="none", heartbeat_seconds=1)
    config["train"]["epochs"] = 30
    path, out = _write(tmp_path, config), tmp_path / "search"
    proc = _tunelab(processes, "search", path, "--trials", 2, "-o", out)
    victim = _wait_for_running_trial(out)
    proc.kill()
    proc.wait()
    time.sleep(4)  # the heartbeat goes stale after 3 x heartbeat_seconds
    result = search(path, output_dir=out, trials=2)
    trials = {t.number: t for t in _study(out).trials}
    assert trials[victim.number].state == TrialState.FAIL
    retry = next(t for t in trials.values() if t.user_attrs.get("retry_of") == victim.number)
    assert retry.state == TrialState.COMPLETE
    assert result.summary["trials"]["complete"] == 2

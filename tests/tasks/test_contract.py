"""The task contract, checked for every registered task on a tiny model.

Like tests/test_strategies.py for strategies: each task builds, trains one step, saves,
reloads, predicts and evaluates through the same core path. A task registered without
a case here fails ``test_every_registered_task_has_a_contract_case``.
"""

from __future__ import annotations

import abc
import json
from pathlib import Path

import pytest

import tunelab
from tests.conftest import TINY_CNN, make_texts
from tests.tasks.audio.conftest import audio_contract_case
from tests.tasks.question_answering.conftest import qa_contract_case
from tests.tasks.timeseries.contract_cases import CASES as TIMESERIES_CASES
from tunelab.evaluation import evaluate_run
from tunelab.tasks import Task, get_task, register_task, task_names


def _text_case(tiny_model_dir: Path, root: Path, lm_dir: Path) -> tuple[dict, list, str]:
    make_texts(10).to_csv(root / "train.csv", index=False)
    make_texts(3, seed=1).to_csv(root / "holdout.csv", index=False)
    config = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {"train": str(root / "train.csv"), "val_fraction": 0.2, "test_fraction": 0.2},
    }
    return config, ["good great", "bad awful"], str(root / "holdout.csv")


def _image_case(tiny_model_dir: Path, root: Path, lm_dir: Path) -> tuple[dict, list, str]:
    from tests.conftest import write_scans

    scans = write_scans(root / "scans", per_class=6)
    config = {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "pretrained": False, "image_size": 32},
        "data": {"train": "builtin:digits", "max_per_class": 6},
    }
    del scans  # the folder is only for evaluate; digits train faster
    config["data"].update(val_fraction=0.2, test_fraction=0.2)
    import numpy as np

    return config, [np.zeros((8, 8), dtype=np.uint8)], "builtin:digits"


def _causal_lm_case(tiny_model_dir: Path, root: Path, lm_dir: Path) -> tuple[dict, list, str]:
    from tests.conftest import make_chats, write_jsonl

    write_jsonl(root / "chats.jsonl", make_chats(40))
    write_jsonl(root / "holdout.jsonl", make_chats(6, seed=1))
    config = {
        "task": "causal_lm",
        "model": {"name": str(lm_dir), "max_length": 32},
        "data": {"train": str(root / "chats.jsonl"), "reference_text": None},
        "train": {"generate_samples": 2, "max_new_tokens": 4},
    }
    return config, ["how are you ?"], str(root / "holdout.jsonl")


CASES = {
    "text_classification": _text_case,
    "image_classification": _image_case,
    "causal_lm": _causal_lm_case,
    "question_answering": qa_contract_case,
    "audio_classification": audio_contract_case,
}
CASES.update(TIMESERIES_CASES)


def test_every_registered_task_has_a_contract_case():
    assert sorted(CASES) == task_names()


@pytest.mark.parametrize("task_name", sorted(CASES))
def test_build_step_save_reload_predict_evaluate(task_name, tiny_model_dir, tiny_lm_dir, tmp_path):
    config, inputs, holdout = CASES[task_name](tiny_model_dir, tmp_path, tiny_lm_dir)
    config["strategy"] = {"name": "full"}
    train = {"max_steps": 1, "batch_size": 8, "seed": 0, "device": "cpu"}
    config["train"] = {**config.get("train", {}), **train}
    result = tunelab.fine_tune(config, tmp_path / "run")

    task = get_task(task_name)
    metrics = json.loads((result.run_dir / "metrics.json").read_text())
    names = task.objective_class.metric_names()
    assert metrics["steps"] == 1 and metrics["task"] == task_name
    assert set(names) <= set(metrics["test"]) and set(names) <= set(metrics["validation"])
    assert metrics["objective"]["monitor"] == task.objective_class.monitor
    history = [json.loads(line) for line in (result.run_dir / "history.jsonl").open()]
    assert {f"val_{name}" for name in names} <= set(history[-1])
    status = json.loads((result.run_dir / "status.json").read_text())
    assert status["state"] == "finished"

    predictor = tunelab.load(result.run_dir)
    first, again = predictor.predict(inputs), tunelab.load(result.run_dir).predict(inputs)
    assert len(first) == len(inputs)
    assert [p.to_dict() for p in first] == [p.to_dict() for p in again]
    record = first[0].to_dict()
    if "probabilities" in record:
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)

    scored = evaluate_run(result.run_dir, holdout)
    assert task.objective_class.monitor in scored and scored["n"] > 0


def test_a_task_missing_part_of_the_contract_fails_at_registration():
    class HalfTask(Task):
        name = "half"

        def sections(self):  # the rest of the contract is missing
            raise NotImplementedError

    with pytest.raises(TypeError, match="does not implement .*build_model"):
        register_task(HalfTask)
    assert "half" not in task_names()
    assert isinstance(Task, abc.ABCMeta)


def test_every_task_lists_its_known_models_in_a_fresh_process():
    import subprocess
    import sys

    code = (
        "from tunelab.models import list_models; from tunelab.tasks import task_names; "
        "assert {s.task for s in list_models()} <= set(task_names()), list_models(); "
        "owners = {s.task for s in list_models()}; "
        "assert {'text_classification', 'image_classification', 'causal_lm'} <= owners"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-500:]

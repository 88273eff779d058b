"""The shared task contract (tests/tasks/test_contract.py) run on the time-series cases."""

from __future__ import annotations

import pytest

from tests.tasks import test_contract as contract
from tests.tasks.timeseries.contract_cases import CASES


@pytest.mark.parametrize("task_name", sorted(CASES))
def test_the_task_contract(task_name, tiny_model_dir, tiny_lm_dir, tmp_path, monkeypatch):
    monkeypatch.setitem(contract.CASES, task_name, CASES[task_name])
    contract.test_build_step_save_reload_predict_evaluate(
        task_name, tiny_model_dir, tiny_lm_dir, tmp_path
    )

"""A crash at any write point leaves temp files that ``--resume`` removes, and the
resumed run still ends with the uninterrupted run's weights (issue 16 item 9)."""

from __future__ import annotations

import os
import tempfile

import pytest
from safetensors.torch import load_file

import tunelab
from tunelab import io


class _Killed(BaseException):
    """Stands in for SIGKILL: raised between a temp file's write and its rename."""


def _crash_at(monkeypatch, prefix: str, nth: int) -> None:
    """Crash at the ``nth`` rename of a temp file named ``prefix...``."""
    real, seen = os.replace, []

    def replace(src, dst):
        if os.path.basename(src).startswith(prefix):
            seen.append(src)
            if len(seen) == nth:
                raise _Killed
        return real(src, dst)

    monkeypatch.setattr(io.os, "replace", replace)


def _orphans(run_dir) -> list[str]:
    found = [*run_dir.glob(".*"), *run_dir.glob("*/.*")]
    return sorted(p.name for p in found if p.name.endswith((".tmp", ".old")))


@pytest.mark.parametrize(("point", "nth"), [(".last.", 2), (".model.", 1)])
def test_resume_after_a_crash_at_each_write_point_cleans_up(
    tiny_config, tmp_path, monkeypatch, point, nth
):
    tiny_config["train"]["epochs"] = 2
    full = tunelab.fine_tune(tiny_config, tmp_path / "full").run_dir
    run = tmp_path / "cut"
    with monkeypatch.context() as patch:
        _crash_at(patch, point, nth)
        with pytest.raises(_Killed):
            tunelab.fine_tune(tiny_config, run)
    # what a kill inside atomic_write leaves for the run's small files and the report
    for name in ("metrics.json", "status.json", "history.jsonl", "report.html"):
        os.close(tempfile.mkstemp(dir=run, prefix=f".{name}.", suffix=".tmp")[0])
    tempfile.mkdtemp(dir=run / "checkpoints", prefix=".best.", suffix=".tmp")
    assert _orphans(run)
    tunelab.fine_tune(tiny_config, run, resume=True)
    assert _orphans(run) == []
    mine, reference = (load_file(str(d / "model" / "model.safetensors")) for d in (run, full))
    assert all((mine[k] == reference[k]).all() for k in reference)


def test_a_moved_aside_checkpoint_stays_while_it_is_the_only_copy(tmp_path):
    (tmp_path / "checkpoints" / ".last.old").mkdir(parents=True)
    assert io.remove_orphan_temps(tmp_path) == []
    (tmp_path / "checkpoints" / "last").mkdir()
    assert io.remove_orphan_temps(tmp_path) == [tmp_path / "checkpoints" / ".last.old"]

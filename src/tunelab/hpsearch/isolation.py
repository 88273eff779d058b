"""Trial isolation for ``search.isolation: subprocess``: a small fork server, one trial a child.

``python -m tunelab.hpsearch`` imports tunelab (torch, transformers) once, then reads
one JSON request per line on stdin: ``{"payload": ..., "log": path}``. For each it forks
a child that runs one trial, its output going to ``log``, and when the child exits it
writes ``{"pid": ..., "exitcode": ...}`` on stdout (a negative exit code is the signal
that killed it). So every trial gets a fresh process whose model, optimizer and
allocator arenas die with it, and starts in milliseconds instead of re-importing for
seconds: a head trained on cached features would otherwise cost mostly imports.

Unlike ``multiprocessing``'s forkserver this never re-imports the user's ``__main__``,
so a plain script calling ``tunelab.search`` works without an ``if __name__`` guard.
Without ``os.fork`` (Windows) the server runs one trial itself and exits. The search
process fails a trial whose worker died inside it and queues it again.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import traceback
import uuid
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from tunelab.config import Config, validate_config
from tunelab.hpsearch.space import parse_space
from tunelab.hpsearch.study import RetryKilledTrial, make_pruner, make_sampler, open_storage
from tunelab.hpsearch.trials import TrialRunner, trial_by_number

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# ------------------------------------------------------------- the search process
class TrialWorkers:
    """The search process's handle on its fork server, started on first use."""

    def __init__(self) -> None:
        self._server: subprocess.Popen | None = None

    def run(self, payload: dict[str, Any], log_path: str) -> tuple[int | None, int]:
        """Run one trial in a fresh worker; return its pid and exit code (None, 1: no server)."""
        server = self._running_server()
        assert server.stdin is not None and server.stdout is not None
        try:
            server.stdin.write(json.dumps({"payload": payload, "log": log_path}) + "\n")
            server.stdin.flush()
            reply = server.stdout.readline()
        except BrokenPipeError:
            reply = ""
        if not reply:
            return None, 1
        result = json.loads(reply)
        return result["pid"], result["exitcode"]

    def close(self) -> None:
        """Let the server finish its current trial and exit."""
        if self._server is not None and self._server.poll() is None:
            assert self._server.stdin is not None
            self._server.stdin.close()
            self._server.wait()
        self._server = None

    def _running_server(self) -> subprocess.Popen:
        if self._server is None or self._server.poll() is not None:
            self._server = subprocess.Popen(
                [sys.executable, "-m", "tunelab.hpsearch"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._server


def run_in_subprocess(
    study: optuna.Study, base: Config, out: Path, url: str, workers: TrialWorkers
) -> tuple[FrozenTrial | None, str]:
    """One trial in a fresh worker process; fail and retry it if the worker dies inside it."""
    launch_id = uuid.uuid4().hex[:12]
    worker_log = out / "trials" / f".worker-{launch_id}.log"
    payload = {
        "config": base.given(),  # unset keys stay unset in the worker's trials
        "storage": url,
        "study": study.study_name,
        "output_dir": str(out),
        "launch_id": launch_id,
    }
    _, exitcode = workers.run(payload, str(worker_log))
    trial = _launched_trial(study, launch_id)
    error = ""
    if trial is not None and trial.state == TrialState.RUNNING:
        trial, error = _fail_dead_worker(study, trial, exitcode, base.search.max_retries)
    elif trial is None:
        error = f"worker exited with code {exitcode} before starting a trial: " + (
            _last_line(worker_log) if worker_log.is_file() else "no output"
        )
    if worker_log.is_file():
        _keep_worker_log(worker_log, trial)
    return trial, error


def _launched_trial(study: optuna.Study, launch_id: str) -> FrozenTrial | None:
    for trial in reversed(study.get_trials(deepcopy=False)):
        if trial.user_attrs.get("launch_id") == launch_id:
            return trial
    return None


def _fail_dead_worker(
    study: optuna.Study, trial: FrozenTrial, returncode: int, max_retries: int
) -> tuple[FrozenTrial, str]:
    """The worker died inside its trial (killed, out of memory): fail it, queue a retry."""
    how = (
        f"killed by {signal.Signals(-returncode).name}"
        if returncode < 0
        else f"exited with code {returncode}"
    )
    study.tell(trial.number, state=TrialState.FAIL, skip_if_finished=True)
    failed = trial_by_number(study, trial.number)
    RetryKilledTrial(max_retries)(study, failed)
    return failed, f"worker process {how}"


def _keep_worker_log(worker_log: Path, trial: FrozenTrial | None) -> None:
    """Append the worker's own output (warnings, tracebacks) to the trial's log."""
    if trial is None:
        worker_log.rename(worker_log.with_name(worker_log.name.lstrip(".")))
        return
    text = worker_log.read_text(errors="replace").strip()
    if text:
        with open(worker_log.parent / f"trial-{trial.number}.log", "a") as handle:
            handle.write(f"\n--- worker process output ---\n{text}\n")
    worker_log.unlink()


def _last_line(path: Path) -> str:
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"


# -------------------------------------------------------- the fork server and its child
def serve() -> None:
    """The server loop: fork one child per request, report how it ended."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the trial, not the server
    warm = False
    for line in sys.stdin:
        request = json.loads(line)
        if not warm:
            warm_imports(request["payload"]["config"])
            warm = True
        if not hasattr(os, "fork"):
            pid, code = os.getpid(), _run_trial(request)
            print(json.dumps({"pid": pid, "exitcode": code}), flush=True)
            return
        pid = os.fork()
        if pid == 0:
            os._exit(_run_trial(request))
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"pid": pid, "exitcode": os.waitstatus_to_exitcode(status)}), flush=True)


def _run_trial(request: dict[str, Any]) -> int:
    """In the child: output to the trial's log, stdin closed, then one trial."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        run_worker(request["payload"])
        return 0
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def warm_imports(config: dict[str, Any]) -> None:
    """Import what a first trial imports lazily (model classes, accelerate, peft, sklearn).

    The fork server calls it once so every forked worker starts warm: in a fresh
    process these imports cost more than training a head on cached features. Best
    effort, and without tensors or weights: a forked child must not inherit a started
    thread pool.
    """
    import accelerate  # noqa: F401
    import peft  # noqa: F401
    import sklearn.metrics  # noqa: F401

    if "mlflow" in str(config["train"].get("report_to")):  # ~5 s per trial otherwise
        with contextlib.suppress(ImportError):
            import tunelab.tracking.mlflow  # noqa: F401

    with contextlib.suppress(Exception):  # an image model, or a name that fails later anyway
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import MODEL_MAPPING

        from tunelab.models.registry import resolve_model_path

        path = resolve_model_path(config["model"]["name"])
        MODEL_MAPPING[type(AutoConfig.from_pretrained(str(path), trust_remote_code=False))]


def run_worker(payload: dict[str, Any]) -> None:
    """Run one trial of a shared study (the body of a subprocess worker)."""
    base = validate_config(payload["config"], source="search worker")
    params = parse_space(base)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=payload["study"],
        storage=open_storage(payload["storage"], base.search),
        sampler=make_sampler(base.search),
        pruner=make_pruner(base.search),
    )
    runner = TrialRunner(base, params, Path(payload["output_dir"]), None, payload["launch_id"])
    runner.run_one(study)

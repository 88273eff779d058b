"""Trial worker processes for ``search.isolation: subprocess``: a small fork server.

``python -m tunelab.search_worker`` imports tunelab (torch, transformers) once, then reads
one JSON request per line on stdin: ``{"payload": ..., "log": path}``. For each it forks
a child that runs one trial, its output going to ``log``, and when the child exits it
writes ``{"pid": ..., "exitcode": ...}`` on stdout (a negative exit code is the signal
that killed it). So every trial gets a fresh process whose model, optimizer and
allocator arenas die with it, and starts in milliseconds instead of re-importing for
seconds: a head trained on cached features would otherwise cost mostly imports.

Unlike ``multiprocessing``'s forkserver this never re-imports the user's ``__main__``,
so a plain script calling ``tunelab.hpsearch`` works without an ``if __name__`` guard.
Without ``os.fork`` (Windows) the server runs one trial itself and exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import traceback
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
                [sys.executable, "-m", "tunelab.search_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self._server


def serve() -> None:
    """The server loop: fork one child per request, report how it ended."""
    from tunelab.hpsearch import warm_imports  # the point of the server: import once, fork many

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

        from tunelab.hpsearch import run_worker

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


if __name__ == "__main__":
    serve()

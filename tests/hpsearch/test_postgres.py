"""Search on a real PostgreSQL server: two ``tunelab search`` processes, as on two
machines, share one study through Optuna's RDB storage.

The fixture starts a private server from Debian's ``postgresql`` binaries in a temporary
directory: ``initdb``, then ``pg_ctl start`` listening only on a unix socket in that
directory (no TCP port is opened), ``createdb``; teardown stops it (``-m immediate``)
and deletes the directory. PostgreSQL refuses to run as root, so under root every server
command runs as the ``postgres`` user through ``runuser`` (root needs no password);
without ``initdb``, psycopg2 or a usable ``postgres`` user the tests skip, saying why.

What hung an earlier version of this test: ``pg_ctl start`` with its output captured.
The server it starts inherits pg_ctl's stdout, so the pipe never reaches end-of-file
and reading it waits forever, although the server is up. Here pg_ctl sends the server's
output to a log file (``-l``), and every command has a timeout.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from tunelab.hpsearch.study import counted_trials

from .conftest import search_config, start_tunelab, write_config

COMMAND_TIMEOUT = 60  # seconds for any one server command
SEARCH_TIMEOUT = 420  # seconds for a whole search process


SERVER_TOOLS = ("initdb", "pg_ctl", "createdb")


def _server_bin() -> Path | None:
    """A folder with initdb, pg_ctl and createdb: Debian's newest
    ``/usr/lib/postgresql/N/bin`` (Debian puts only wrappers on PATH), else PATH's."""
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    on_path = shutil.which("initdb")
    for folder in [*map(Path, debian), *([Path(on_path).parent] if on_path else [])]:
        if all((folder / tool).is_file() for tool in SERVER_TOOLS):
            return folder
    return None


def _version(path: str) -> int:
    part = Path(path).parts[-2]
    return int(part) if part.isdigit() else 0


def _as_server_user() -> list[str]:
    """The prefix that runs a command as a user PostgreSQL accepts (skips when none)."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run(
        ["runuser", "-u", "postgres", "--", "true"], capture_output=True, timeout=COMMAND_TIMEOUT
    )
    if probe.returncode != 0:
        pytest.skip("running as root, and 'runuser -u postgres' does not work without a password")
    return ["runuser", "-u", "postgres", "--"]


def _free_port() -> int:
    """A port number no local server uses (it only names the socket file here)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(command: list[str], what: str, log: Path | None = None) -> None:
    """Run a server command; on failure skip with its output (and the server log)."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip().splitlines()[-3:]
        if log is not None and log.is_file():
            tail += log.read_text().strip().splitlines()[-3:]
        pytest.skip(f"PostgreSQL {what} failed: {' | '.join(tail)}")


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A storage URL on a private PostgreSQL server, stopped after the module's tests."""
    pytest.importorskip("psycopg2", reason="the postgresql+psycopg2 URL needs psycopg2")
    bin_dir = _server_bin()
    if bin_dir is None:
        pytest.skip("no initdb / pg_ctl / createdb: install Debian's postgresql")
    prefix = _as_server_user()
    # a short path of its own: a unix socket path is limited to ~107 bytes
    root = Path(tempfile.mkdtemp(prefix="tunelab-pg-"))
    if prefix:
        shutil.chown(root, "postgres")
    data, log, port = root / "data", root / "server.log", _free_port()
    user = "postgres" if prefix else os.environ.get("USER") or "postgres"
    tool = lambda name: [*prefix, str(bin_dir / name)]  # noqa: E731
    pg_ctl = [*tool("pg_ctl"), "-D", str(data)]
    try:
        _run([*tool("initdb"), "-D", str(data), "-A", "trust", "-U", user], "initdb")
        server = f"-k {root} -p {port} -c listen_addresses=''"
        _run([*pg_ctl, "-l", str(log), "-o", server, "-w", "-t", "30", "start"], "start", log)
        socket_at = ["-h", str(root), "-p", str(port), "-U", user]
        _run([*tool("createdb"), *socket_at, "tunelab"], "createdb", log)
        yield f"postgresql+psycopg2://{user}@/tunelab?host={root}&port={port}"
    finally:
        if (data / "postmaster.pid").exists():
            stop = [*pg_ctl, "stop", "-m", "immediate"]
            subprocess.run(stop, capture_output=True, timeout=COMMAND_TIMEOUT)
        shutil.rmtree(root, ignore_errors=True)


def _search(processes: list, config: Path, url: str, out: Path, trials: int):
    return start_tunelab(
        processes, "search", config, "--storage", url, "--study", "shared",
        "--trials", trials, "-o", out, "--no-report",
    )  # fmt: skip


def test_two_search_processes_share_one_postgres_study(
    postgres_url, tiny_config, tmp_path, processes
):
    config = search_config(tiny_config, pruner="none", timeout_seconds=SEARCH_TIMEOUT - 60)
    config["train"]["epochs"] = 2
    path = write_config(tmp_path, config)
    machines = [tmp_path / "machine-a", tmp_path / "machine-b"]
    started = [_search(processes, path, postgres_url, out, 6) for out in machines]
    for proc in started:
        output = proc.communicate(timeout=SEARCH_TIMEOUT)[0].decode()
        assert proc.returncode == 0, output

    study = optuna.load_study(study_name="shared", storage=postgres_url)
    trials = study.get_trials()
    assert counted_trials(trials) == 6 and len(trials) == 6, "one budget for both"
    assert sorted(t.number for t in trials) == list(range(6)), "no trial twice"
    assert all(t.state == TrialState.COMPLETE for t in trials)
    assert sum(bool(t.user_attrs.get("baseline")) for t in trials) == 1
    assert len({t.user_attrs["worker"] for t in trials}) == 2, "both processes ran trials"
    ran = [{p.name for p in (out / "trials").iterdir()} for out in machines]
    assert ran[0] and ran[1] and not ran[0] & ran[1], "each trial ran on one machine"

    # a third process on the finished study runs nothing and reads the best trial
    reader = _search(processes, path, postgres_url, tmp_path / "reader", 6)
    output = reader.communicate(timeout=SEARCH_TIMEOUT)[0].decode()
    assert reader.returncode == 0, output
    summary = json.loads((tmp_path / "reader" / "search_summary.json").read_text())
    assert summary["this_process"]["trials_run"] == 0
    assert summary["best"]["number"] == study.best_trial.number
    assert summary["best"]["value"] == pytest.approx(study.best_value)
    assert "postgresql+psycopg2://" in summary["storage"]

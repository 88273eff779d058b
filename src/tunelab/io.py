"""Atomic writes: a crash leaves the old file or the new one, never half of one."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

# tempfile's names: our ".NAME." prefix, 8 random characters, our ".tmp" suffix
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp_path)`` then rename the temp file onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Atomically write a text file."""
    return atomic_write(path, lambda tmp: tmp.write_text(text))


def write_json(path: str | Path, data: Any) -> Path:
    """Atomically write pretty JSON."""
    return write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def append_jsonl(path: str | Path, row: dict) -> None:
    """Append one JSON line (appends of a short line are atomic enough for a log)."""
    with open(path, "a") as handle:
        handle.write(json.dumps(row, default=_json_default) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """All rows of a JSON-lines file (empty list when missing)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def replace_dir(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a directory under a temp name with ``fill(tmp_dir)``, then swap it in.

    The old directory is moved aside before the rename and removed after, so at every
    moment either the old or the new complete directory exists under some name;
    :func:`existing_dir` finds it.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(tmp, target)
    shutil.rmtree(old, ignore_errors=True)
    return target


def remove_orphan_temps(directory: str | Path) -> list[Path]:
    """Remove what a killed :func:`atomic_write` / :func:`replace_dir` left under
    ``directory`` (two levels deep): ``.NAME.XXXXXXXX.tmp`` files and directories, and a
    moved-aside ``.NAME.old`` whose ``NAME`` exists again (while ``NAME`` is missing it
    is the copy :func:`existing_dir` recovers, so it stays).

    Returns:
        The removed paths.
    """
    removed = []
    for path in [*Path(directory).glob(".*"), *Path(directory).glob("*/.*")]:
        stale_old = path.suffix == ".old" and path.with_name(path.name[1:-4]).exists()
        if _TEMP_NAME.match(path.name) or stale_old:
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def existing_dir(target: str | Path) -> Path | None:
    """``target``, or its moved-aside copy if a crash hit between the two renames."""
    target = Path(target)
    if target.is_dir():
        return target
    old = target.with_name(f".{target.name}.old")
    return old if old.is_dir() else None


NONFINITE_OUTPUT = (
    "the model's output is not finite (NaN/inf): its weights are damaged, e.g. by a "
    "diverged run; retrain it (a lower train.lr, train.on_nonfinite: stop)"
)


def finite_record(record: dict) -> dict:
    """A prediction record that is valid JSON: NaN/inf (which ``json.dumps`` would write
    as the invalid tokens ``NaN``/``Infinity``) become null, and the record gets an
    ``error`` saying the model's output is not finite."""
    if not _nonfinite(record):
        return record
    return {**_finite(record), "error": record.get("error") or NONFINITE_OUTPUT}


def _finite(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _nonfinite(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_nonfinite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(_nonfinite(v) for v in value)
    return isinstance(value, float) and not math.isfinite(value)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serializable: {type(value).__name__}")


def read_line_records(path: Path, key: str, empty: str, hint: str) -> list[dict]:
    r"""``{"line": N, key: text}`` per line of a text file, for ``predict --input``.

    Record N is line N: lines end at ``\n`` (or ``\r\n``) only, never at the other
    characters ``str.splitlines`` breaks on (form feed, U+2028, ...), which stay inside
    the text; a BOM is dropped and the final newline starts no line. A blank line (its
    ``error`` is ``empty``) or one that is not UTF-8 is kept as a record with an
    ``error``, so outputs stay aligned with the lines.

    Raises:
        DataError: the file does not exist (``hint`` says what to pass).
    """
    from tunelab.errors import DataError

    if not path.is_file():
        raise DataError(f"--input {path}: file not found; {hint}")
    lines = path.read_bytes().removeprefix(b"\xef\xbb\xbf").split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # the final newline ends the last line
    return [_line_record(n, raw.removesuffix(b"\r"), key, empty) for n, raw in enumerate(lines, 1)]


def _line_record(n: int, raw: bytes, key: str, empty: str) -> dict:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return {
            "line": n,
            key: raw.decode("utf-8", errors="replace"),
            "error": f"not UTF-8 (byte {raw[err.start]:#04x} at position {err.start + 1} of "
            "the line); save the file as UTF-8",
        }
    return {"line": n, key: text, "error": empty} if not text.strip() else {"line": n, key: text}

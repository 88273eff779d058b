"""Listing files with class labels, for every task whose examples are files (images,
audio): a folder with one sub-folder per class, or a table of path,label rows.

Nothing is decoded here; each task decodes the listed files its own way. The rules are
the same for all of them: hidden files and folders are skipped, nested folders inside a
class folder are read too, a table's relative paths resolve from the table's folder,
and table rows missing a path or a label are dropped and counted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
import torch

from tunelab.data.cleaning import CleaningReport, filter_classes
from tunelab.errors import DataError


class Listed(Protocol):
    """A source's listing: one row per file, with a ``label`` column."""

    frame: pd.DataFrame


Entries = TypeVar("Entries", bound=Listed)


def list_class_folder(
    root: Path, suffixes: set[str], column: str, where: str, noun: str
) -> pd.DataFrame:
    """``root/<class>/**/<file>`` as rows ``(column, label)``, for files with a suffix in
    ``suffixes`` (any case).

    Raises:
        DataError: no such file in any class sub-folder (``noun`` names what was sought).
    """
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows = [
        (str(file), folder.name)
        for folder in classes
        for file in sorted(folder.rglob("*"))
        if file.is_file()
        and file.suffix.lower() in suffixes
        and not any(part.startswith(".") for part in file.relative_to(folder).parts)
    ]
    if not rows:
        raise DataError(
            f"{where}: '{root}' holds no {noun} in class sub-folders; expected "
            f"{root}/<class>/<{noun}> ({', '.join(sorted(suffixes))})"
        )
    return pd.DataFrame(rows, columns=[column, "label"])


def list_path_table(
    source: str,
    where: str,
    columns: tuple[str, str],
    read_label: Callable[[Any], Any],
    column: str,
) -> tuple[pd.DataFrame, int]:
    """Rows ``(column, label)`` of a table with a path and a label column (``columns``,
    the config's ``data.path_column`` and ``data.label_column``), and how many rows
    lacked either.

    Raises:
        DataError: unreadable table, or a missing column (named, with the key to set).
    """
    from tunelab.data.sources import read_table

    table = read_table(source, where)
    for name, key in zip(columns, ("path_column", "label_column"), strict=True):
        if name not in table.columns:
            found = ", ".join(str(c) for c in table.columns)
            raise DataError(
                f"{where} ({source}): no column '{name}'; columns are: {found}; set data.{key}"
            )
    paths = table[columns[0]].map(lambda v: str(v).strip() if pd.notna(v) else "")
    labels = table[columns[1]].map(read_label)
    keep = (paths != "") & labels.notna()
    base = Path(source).expanduser().parent
    resolved = [str(p if Path(p).is_absolute() else base / p) for p in paths[keep]]
    frame = pd.DataFrame({column: resolved, "label": labels[keep].tolist()})
    return frame, int((~keep).sum())


def filter_listed_classes(
    listed: dict[str, Entries],
    min_count: int,
    max_per_class: int | None,
    seed: int,
    report: CleaningReport,
) -> dict[str, Entries]:
    """:func:`~tunelab.data.cleaning.filter_classes` on the listings, in place: files of
    a dropped class, or over a class's cap, are then never decoded."""
    frames = {name: entries.frame for name, entries in listed.items()}
    frames = filter_classes(frames, min_count, max_per_class, seed, report)
    for name, entries in listed.items():
        entries.frame = frames[name]
    return listed


@dataclass
class DecodeReport:
    """Files that could not be decoded, per source, and the ``data.on_bad_<kind>``
    policy that decides between stopping the run and skipping them."""

    bad: dict[str, list[str]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.bad.values())

    def first_files(self, limit: int = 20) -> list[str]:
        """The first ``limit`` skipped files, for the data summary: enough to find the
        pattern, without swamping the summary when a whole folder is unreadable."""
        return [name for names in self.bad.values() for name in names][:limit]

    def unreadable(self, err: Exception, name: str, where: str, on_bad: str, kind: str) -> None:
        """Skip the file ``name`` (``on_bad == "skip"``: recorded under ``where``).

        Raises:
            DataError: ``on_bad == "error"``, naming the file, why it failed and the
                ``data.on_bad_<kind>`` setting that skips it instead.
        """
        if on_bad == "error":
            reason = " ".join(f"{err.__class__.__name__}: {err}".split())
            raise DataError(
                f"{where}: cannot read {kind} '{name}' ({reason}); fix or remove it, "
                f"or set data.on_bad_{kind}: skip"
            ) from None
        self.bad.setdefault(where, []).append(name)


def content_hashes(decoded: torch.Tensor) -> list[str]:
    """A hash per decoded example (image pixels, audio samples): identical content,
    identical hash, so exact duplicates are found within and across splits."""
    flat = decoded.reshape(len(decoded), -1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=12).hexdigest() for row in flat]

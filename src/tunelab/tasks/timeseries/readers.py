"""Reading series from the formats the field uses, into plain numpy arrays.

* ``.ts`` (UCR/UEA, as sktime and aeon ship it): a ``@`` header, then one series per
  line, channels separated by ``:``, values by ``,``, ``?`` for a missing value, the
  class label last. Unequal lengths and several channels are allowed.
* A wide CSV: one univariate series per row, a label column, every other column a time
  step (empty cells are missing values; shorter series end in empty cells).
* A long CSV (forecasting): a time column, value columns, optional series-id column.
* ``builtin:<Name>_TRAIN`` / ``builtin:<Name>_TEST``: a ``.ts`` file shipped in sktime or
  aeon's data folder; ``builtin:co2`` (or another statsmodels data set) as a long table.

Files are parsed here, without importing sktime or aeon (aeon's import needs numba).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tunelab.errors import DataError

BUILTIN = "builtin:"
DATA_PACKAGES = ("sktime", "aeon")  # folders ``<package>/datasets/data/<Name>/``
MISSING_TOKENS = {"?", "nan", "NaN", ""}


@dataclass
class LabelledSeries:
    """Series with labels: ``series[i]`` is ``[channels, length_i]`` (NaN = missing)."""

    series: list[np.ndarray]
    labels: list[str]
    source: str

    def __len__(self) -> int:
        return len(self.series)


def data_folders() -> list[Path]:
    """The installed sktime / aeon data folders (found without importing them)."""
    folders = []
    for package in DATA_PACKAGES:
        spec = importlib.util.find_spec(package)
        if spec and spec.submodule_search_locations:
            folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
            if folder.is_dir():
                folders.append(folder)
    return folders


def builtin_ts_path(name: str, key: str) -> Path:
    """The shipped file ``<Name>/<Name>_<SPLIT>.ts`` for ``builtin:<Name>_<SPLIT>``.

    Raises:
        DataError: no such file in the installed packages.
    """
    stem = name.removeprefix(BUILTIN)
    folder = stem.rsplit("_", 1)[0]
    for root in data_folders():
        path = root / folder / f"{stem}.ts"
        if path.is_file():
            return path
    where = ", ".join(str(f) for f in data_folders()) or "none installed"
    raise DataError(
        f"{key} '{name}': no shipped {stem}.ts (looked in {where}); "
        "pip install --no-deps sktime==1.2.0 'scikit-base<1.2', or pass a file path"
    )


def read_labelled(source: str, key: str, label_column: str = "label") -> LabelledSeries:
    """Labelled series from a ``.ts`` file, a wide CSV or a ``builtin:`` name.

    Raises:
        DataError: a missing file, an unknown format, or a malformed line (named).
    """
    path = builtin_ts_path(source, key) if source.startswith(BUILTIN) else Path(source)
    if not path.is_file():
        raise DataError(f"{key} '{source}': file not found; pass a .ts file or a wide CSV")
    if path.suffix.lower() == ".ts":
        series, labels = parse_ts(path, key)
    elif path.suffix.lower() in (".csv", ".tsv"):
        series, labels = read_wide_csv(path, key, label_column)
    else:
        raise DataError(f"{key} '{source}': expected a .ts file or a wide .csv")
    if not series:
        raise DataError(f"{key} '{source}': holds no series")
    return LabelledSeries(series, labels, str(path))


def parse_ts(path: Path, key: str) -> tuple[list[np.ndarray], list[str]]:
    """Series (``[channels, length]``) and labels of a ``.ts`` file.

    Raises:
        DataError: time-stamped values, a line whose channel count differs, or a value
            that is not a number (with the line number).
    """
    header: dict[str, str] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    text = path.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            word, _, value = line.partition(" ")
            if word.lower() == "@data":
                in_data = True
            elif word.startswith("@"):
                header[word[1:].lower()] = value.strip()
            continue
        if header.get("timestamps", "false").lower() == "true":
            raise DataError(f"{path}: time-stamped .ts values are not supported; drop them")
        has_label = header.get("classlabel", "false").split(" ")[0].lower() == "true"
        fields = line.split(":")
        label = fields.pop().strip() if has_label else ""
        channels = [_parse_values(f, path, number) for f in fields]
        if series and len(channels) != series[0].shape[0]:
            raise DataError(
                f"{path} line {number}: {len(channels)} channels, the first series has "
                f"{series[0].shape[0]}; every series needs the same channels"
            )
        series.append(_stack(channels))
        labels.append(label)
    del key
    return series, labels


def _parse_values(field: str, path: Path, number: int) -> np.ndarray:
    values = []
    for token in field.split(","):
        token = token.strip()
        if token in MISSING_TOKENS:
            values.append(np.nan)
            continue
        try:
            values.append(float(token))
        except ValueError:
            raise DataError(
                f"{path} line {number}: '{token[:20]}' is not a number; use ? for missing"
            ) from None
    return np.asarray(values, dtype=np.float32)


def _stack(channels: list[np.ndarray]) -> np.ndarray:
    """Channels of one series as ``[C, T]``; a shorter channel is padded with NaN."""
    length = max(len(c) for c in channels)
    out = np.full((len(channels), length), np.nan, dtype=np.float32)
    for i, values in enumerate(channels):
        out[i, : len(values)] = values
    return out


def read_wide_csv(path: Path, key: str, label_column: str) -> tuple[list[np.ndarray], list[str]]:
    """Univariate series, one per row; trailing empty cells end a shorter series.

    Raises:
        DataError: no such label column, or a non-numeric value.
    """
    table = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    if label_column not in table.columns:
        raise DataError(
            f"{key} '{path}': no label column '{label_column}' (columns: "
            f"{', '.join(map(str, table.columns[:6]))}); set data.label_column"
        )
    labels = table.pop(label_column).astype(str).tolist()
    values = table.apply(pd.to_numeric, errors="coerce")
    bad = values.isna() & table.notna()
    if bad.to_numpy().any():
        row, column = np.argwhere(bad.to_numpy())[0]
        raise DataError(
            f"{key} '{path}' row {row + 2}, column '{table.columns[column]}': "
            f"'{table.iat[row, column]}' is not a number; leave the cell empty for missing"
        )
    series = [_trim(row) for row in values.to_numpy(dtype=np.float32)]
    return series, labels


def _trim(row: np.ndarray) -> np.ndarray:
    """One row as ``[1, T]``, without the empty cells after its last value."""
    observed = np.flatnonzero(~np.isnan(row))
    end = observed[-1] + 1 if len(observed) else 0
    return row[:end][None, :]


# ------------------------------------------------------------------ forecasting
def read_long(source: str, key: str) -> pd.DataFrame:
    """A long table from a CSV path or ``builtin:<statsmodels data set>``.

    Raises:
        DataError: a missing file or unknown builtin name.
    """
    if source.startswith(BUILTIN):
        return statsmodels_frame(source.removeprefix(BUILTIN), key)
    path = Path(source)
    if not path.is_file():
        raise DataError(f"{key} '{source}': file not found; pass a long CSV (time, value...)")
    return pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")


def statsmodels_frame(name: str, key: str) -> pd.DataFrame:
    """A statsmodels data set as a long table with a ``date`` column.

    ``macrodata``'s year/quarter become quarter-start dates; ``co2``'s weekly index
    becomes the column; a yearly ``YEAR`` column (nile, sunspots) becomes 1 January.
    """
    try:
        module = importlib.import_module(f"statsmodels.datasets.{name}")
        frame = module.load_pandas().data.copy()
    except (ImportError, AttributeError):
        raise DataError(
            f"{key} 'builtin:{name}': not a statsmodels data set (co2, macrodata, nile, "
            "sunspots, elnino, ...); pip install statsmodels, or pass a CSV"
        ) from None
    if isinstance(frame.index, pd.DatetimeIndex):
        return frame.rename_axis("date").reset_index()
    if {"year", "quarter"} <= set(frame.columns):
        frame.insert(
            0,
            "date",
            pd.PeriodIndex.from_fields(
                year=frame.pop("year").astype(int),
                quarter=frame.pop("quarter").astype(int),
                freq="Q",
            ).to_timestamp(),
        )
        return frame
    year = next((c for c in frame.columns if str(c).lower() == "year"), None)
    if year is not None:
        frame.insert(0, "date", pd.to_datetime(frame.pop(year).astype(int).astype(str)))
        return frame
    frame.insert(0, "date", np.arange(len(frame)))
    return frame

"""``data.unlabeled`` for text: the texts self-training pseudo-labels.

Any table the labelled splits may come from (CSV, TSV, JSONL, Parquet, ``hf:``,
``builtin:``) with ``data.text_column``, or a ``.txt`` file with one text per line.
Texts are cleaned as training texts are (stripped, blanks dropped, ``data.lowercase``,
duplicates dropped). A ``data.label_column`` in the file is kept as each text's true
label: it is never trained on, only compared with the pseudo-labels.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tunelab.data.cleaning import normalize_label, normalize_text, require_scalars
from tunelab.data.formats import decode_utf8
from tunelab.data.sources import load_source
from tunelab.errors import DataError
from tunelab.tasks.text.config import TextDataConfig

WHERE = "data.unlabeled"


def read_unlabeled_texts(cfg: TextDataConfig, source: str) -> pd.DataFrame:
    """Columns ``text`` and ``label`` (None where unknown), one row per distinct text.

    Raises:
        DataError: the file is missing or unreadable, has no text column, or holds no
            text.
    """
    where = f"{WHERE} ({source})"
    frame = _read_lines(source, cfg) if source.endswith(".txt") else _read_table(source, cfg)
    if cfg.text_column not in frame.columns:
        columns = ", ".join(str(c) for c in frame.columns)
        raise DataError(
            f"{where}: no column '{cfg.text_column}'; columns are: {columns}; set data.text_column"
        )
    require_scalars(frame[cfg.text_column], where, cfg.text_column, "text_column")
    labels = frame[cfg.label_column] if cfg.label_column in frame.columns else None
    rows = pd.DataFrame(
        {
            "text": frame[cfg.text_column].map(normalize_text).astype(object),
            "label": labels.map(normalize_label).astype(object) if labels is not None else None,
        }
    ).dropna(subset=["text"])
    if cfg.lowercase:
        rows["text"] = rows["text"].str.lower()
    rows = rows.drop_duplicates(subset=["text"]).reset_index(drop=True)
    if rows.empty:
        raise DataError(f"{where}: no texts (every '{cfg.text_column}' is empty); give inputs")
    return rows.astype(object).where(rows.notna(), None)


def _read_table(source: str, cfg: TextDataConfig) -> pd.DataFrame:
    return load_source(source, WHERE, cfg.encoding_errors).frame


def _read_lines(source: str, cfg: TextDataConfig) -> pd.DataFrame:
    """A ``.txt`` file: one text per line (lines end at ``\\n`` or ``\\r\\n``)."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise DataError(f"{WHERE}: '{source}' not found; give a .txt/.csv/.jsonl of texts")
    text, _ = decode_utf8(path.read_bytes(), f"{WHERE} ({source})", cfg.encoding_errors)
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    return pd.DataFrame({cfg.text_column: lines})

"""Bytes to table: decoding and parsing of the text file formats tunelab reads.

Everything here works on bytes already in memory so that file sources and packaged
datasets share one decoder and one parser, and so that every failure can name the line
(and byte) where it happened: "line 5581 is not valid UTF-8" is fixable, a bare
``UnicodeDecodeError`` is not.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tunelab.errors import DataError

REPLACEMENT_CHAR = "\ufffd"
_REPLACEMENT_BYTES = REPLACEMENT_CHAR.encode("utf-8")
ENCODING_HINT = "re-encode the file as UTF-8 or set data.encoding_errors: replace"


@dataclass
class SourceTable:
    """A table read from one source, with what decoding had to do to read it.

    Attributes:
        frame: the rows as read, all columns, no cleaning.
        origin: how to name the source in messages (a path, ``hf:DIR`` or ``builtin:NAME``).
        replaced_chars: undecodable bytes replaced with U+FFFD (``encoding_errors: replace``).
    """

    frame: pd.DataFrame
    origin: str
    replaced_chars: int = 0


def decode_utf8(raw: bytes, label: str, errors: str = "error") -> tuple[str, int]:
    """Decode UTF-8 (a leading BOM is dropped), failing with the line and byte offset.

    Args:
        raw: the file's bytes.
        label: ``"data.train (path)"``, the prefix of any error message.
        errors: ``"error"`` to fail on the first bad byte, ``"replace"`` to substitute
            U+FFFD and go on.

    Returns:
        The text and how many replacement characters decoding inserted (replacement
        characters already present in the file are not counted).

    Raises:
        DataError: ``errors="error"`` and the bytes are not valid UTF-8.
    """
    if errors == "replace":
        text = raw.decode("utf-8", errors="replace")
        inserted = text.count(REPLACEMENT_CHAR) - raw.count(_REPLACEMENT_BYTES)
        return text.removeprefix("\ufeff"), inserted
    try:
        return raw.decode("utf-8").removeprefix("\ufeff"), 0
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise DataError(
            f"{label}: line {line} (byte offset {err.start}) is not valid UTF-8 "
            f"(byte 0x{raw[err.start]:02x}); {ENCODING_HINT}"
        ) from None


def require_text(text: str, label: str) -> None:
    """Fail early on a file that holds nothing, instead of pandas' vaguer errors."""
    if not text.strip():
        raise DataError(f"{label}: the file is empty; add a header line and rows")


def require_rows(frame: pd.DataFrame, label: str) -> pd.DataFrame:
    """Fail on a table with a header (or an empty list) but no rows."""
    if frame.empty:
        raise DataError(f"{label}: the file has no rows; add rows below the header")
    return frame


def parse_delimited(text: str, label: str, sep: str = ",") -> pd.DataFrame:
    """Parse CSV/TSV text with every cell as a string, so texts like ``007`` survive.

    CRLF line ends (Windows exports) are normalised first, so no ``\\r`` ends up inside
    the last column. Empty cells become empty strings; cleaning decides what is missing.

    Raises:
        DataError: empty text, no rows, or a malformed row (with its line number).
    """
    require_text(text, label)
    text = text.replace("\r\n", "\n")
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False
        )
    except pd.errors.ParserError as err:
        raise DataError(f"{label}: {_describe_parser_error(str(err), sep)}") from None
    except csv.Error as err:
        raise DataError(f"{label}: could not parse the file ({err}); check its quoting") from None
    return require_rows(frame, label)


def _describe_parser_error(message: str, sep: str) -> str:
    """Turn pandas' tokenizer message into 'line N: ...' plus the usual fix."""
    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    delimiter = "tab" if sep == "\t" else f"'{sep}'"
    hint = f"quote texts that contain a {delimiter} or a quote, or fix that row"
    if fields:
        expected, line, seen = fields.groups()
        return f"line {line} has {seen} fields but the header has {expected}; {hint}"
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:  # the tokenizer counts rows from 0, header included
        line_number = int(quote.group(1)) + 1
        return f"line {line_number} opens a quote that is never closed; {hint}"
    line = re.search(r"line (\d+)", message)
    where = f"line {line.group(1)}" if line else "a row"
    return f"could not parse {where} ({message.strip()}); {hint}"


def parse_json(text: str, label: str) -> pd.DataFrame:
    """Parse a JSON list of objects, or JSON lines (one object per line).

    The two are told apart by the first character, so a ``.json`` file written as JSON
    lines (a common mix-up) reads as well.

    Raises:
        DataError: empty text, no rows, invalid JSON, or an item that is not an object.
    """
    require_text(text, label)
    if text.lstrip().startswith("["):
        return require_rows(pd.DataFrame(_json_list_records(text, label)), label)
    return require_rows(pd.DataFrame(_json_lines_records(text, label)), label)


def _json_list_records(text: str, label: str) -> list[dict[str, Any]]:
    try:
        items = json.loads(text)
    except json.JSONDecodeError as err:
        raise DataError(
            f"{label}: line {err.lineno} column {err.colno}: not valid JSON ({err.msg}); "
            "fix the file or write it as JSON lines"
        ) from None
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise DataError(
                f"{label}: item {index} of the list is not an object (got "
                f'{type(item).__name__}); write each row as {{"text": ..., "label": ...}}'
            )
    return items


def _json_lines_records(text: str, label: str) -> list[dict[str, Any]]:
    records = []
    # split("\n"), not splitlines(): U+2028 and friends are legal inside JSON strings.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(
                f"{label}: line {number} column {err.colno}: not valid JSON ({err.msg}); "
                "each line must hold one JSON object"
            ) from None
        if not isinstance(item, dict):
            raise DataError(
                f"{label}: line {number} is not a JSON object (got {type(item).__name__}); "
                'write each line as {"text": ..., "label": ...}'
            )
        records.append(item)
    return records

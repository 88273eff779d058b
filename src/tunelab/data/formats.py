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

    Quotes never make rows vanish silently. A stray ``"`` opening a text would otherwise
    swallow every line up to the next quote into that one text. A TSV whose lines all
    hold the header's number of tabs is one row per line, so it is read without quote
    processing when quotes would merge lines (TSV has no quoting of its own). Anywhere
    else, a quoted text spanning lines must be well formed, or the line is named.

    Raises:
        DataError: empty text, no rows, a malformed row or a quote that joins lines by
            accident (with its line number).
    """
    require_text(text, label)
    text = text.replace("\r\n", "\n")
    if sep == "\t" and _one_row_per_line(text, sep):
        return require_rows(_read_lines_as_rows(text, label, sep), label)
    frame = _read_quoted(text, label, sep)
    if _has_multiline_cell(frame):
        _check_multiline_records(text, label, sep)
    return require_rows(frame, label)


_READ_OPTIONS: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_filter": False}


def _read_quoted(text: str, label: str, sep: str) -> pd.DataFrame:
    """The standard (RFC 4180) reading: quoted fields may hold separators and line breaks."""
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, **_READ_OPTIONS)
    except pd.errors.ParserError as err:
        problem = _describe_parser_error(str(err), sep, _record_first_lines(text, sep))
    except csv.Error as err:
        problem = f"could not parse the file ({err}); check its quoting"
    raise DataError(f"{label}: {problem}")


def _one_row_per_line(text: str, sep: str) -> bool:
    """Whether every non-empty line holds as many separators as the header."""
    return len({line.count(sep) for line in text.split("\n") if line}) == 1


def _read_lines_as_rows(text: str, label: str, sep: str) -> pd.DataFrame:
    """One row per line: quote processing is kept only if it merges no lines.

    It is kept then because pandas and spreadsheets write a text holding a quote as a
    quoted field with the inner quote doubled, and such texts should read as they were.
    """
    rows = sum(1 for line in text.split("\n") if line) - 1
    try:
        frame = _read_quoted(text, label, sep)
    except DataError:  # e.g. a quote that is never closed
        frame = None
    if frame is not None and len(frame) == rows:
        return frame
    return pd.read_csv(io.StringIO(text), sep=sep, quoting=csv.QUOTE_NONE, **_READ_OPTIONS)


def _has_multiline_cell(frame: pd.DataFrame) -> bool:
    """Whether quote processing put a line break inside some cell (rows were joined)."""
    return any(frame[column].str.contains("\n", regex=False).any() for column in frame)


def _check_multiline_records(text: str, label: str, sep: str) -> None:
    """Stop at the first record spanning lines whose quoted text is not well formed.

    A genuine multi-line text closes its quote right before a separator or a line end;
    a stray quote closes at the next quote in the file, usually mid-text.

    Raises:
        DataError: naming the line that opens the quote and the line it runs to.
    """
    lines = text.split("\n")
    for first, last in _multiline_records(text, sep):
        if not _is_one_well_formed_record("\n".join(lines[first - 1 : last]), sep):
            raise DataError(
                f"{label}: line {first} opens a quote that runs to line {last} and ends "
                f"inside a text, joining {last - first + 1} lines into one row; close "
                f"the quote on line {first} (doubling any quote inside it) or remove it"
            )


def _multiline_records(text: str, sep: str) -> list[tuple[int, int]]:
    """The first and last line (1-based) of every record that spans several lines."""
    firsts = _record_first_lines(text, sep)
    ends = [*firsts[1:], text.rstrip("\n").count("\n") + 2]
    return [(first, end - 1) for first, end in zip(firsts, ends, strict=True) if end - 1 > first]


def _record_first_lines(text: str, sep: str) -> list[int]:
    """The line (1-based) each record starts on; pandas numbers records, not lines.

    Quoted line breaks make the two differ, and a message must name the line an editor
    shows.
    """
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    firsts = [1]
    try:
        for _ in reader:
            firsts.append(reader.line_num + 1)
    except csv.Error:  # the records before the malformed one are still numbered right
        pass
    return firsts[:-1]


def _is_one_well_formed_record(chunk: str, sep: str) -> bool:
    try:
        return len(list(csv.reader(io.StringIO(chunk), delimiter=sep, strict=True))) == 1
    except csv.Error:
        return False


def _describe_parser_error(message: str, sep: str, first_lines: list[int]) -> str:
    """Turn pandas' tokenizer message into 'line N: ...' plus the usual fix.

    ``first_lines`` maps pandas' record numbers to the lines they start on.
    """

    def line_of(record: int) -> int:
        return first_lines[record] if record < len(first_lines) else record + 1

    fields = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
    delimiter = "tab" if sep == "\t" else f"'{sep}'"
    hint = f"quote texts that contain a {delimiter} or a quote, or fix that row"
    if fields:
        expected, line, seen = fields.groups()
        return (
            f"line {line_of(int(line) - 1)} has {seen} fields but the header has {expected}; {hint}"
        )
    quote = re.search(r"EOF inside string starting at row (\d+)", message)
    if quote:  # the tokenizer counts rows from 0, header included
        return f"line {line_of(int(quote.group(1)))} opens a quote that is never closed; {hint}"
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

"""Decoding and parsing helpers: exact line / byte positions and replacement counts."""

from __future__ import annotations

import pytest

from tunelab.data.formats import decode_utf8, parse_delimited
from tunelab.errors import DataError


def test_decode_reports_first_bad_byte_on_a_later_line():
    raw = "line one\nline two ü\n".encode() + b"bad \xff\xfe here\n"
    with pytest.raises(DataError, match=r"^f\.csv: line 3 \(byte offset 25\) .*\(byte 0xff\)"):
        decode_utf8(raw, "f.csv")


def test_replace_counts_only_inserted_replacement_characters():
    # One U+FFFD was already in the file (bytes EF BF BD): it is data, not a decode error.
    raw = "ok \ufffd\n".encode() + b"\xff\xfe\n\xe9\n"
    text, replaced = decode_utf8(raw, "f.csv", errors="replace")
    assert text.count("\ufffd") == 4
    assert replaced == 3


def test_bom_is_removed_in_both_modes():
    raw = b"\xef\xbb\xbftext\n"
    assert decode_utf8(raw, "f") == ("text\n", 0)
    assert decode_utf8(raw, "f", errors="replace") == ("text\n", 0)


def test_empty_cells_stay_empty_strings_for_cleaning_to_judge():
    frame = parse_delimited("text,label\nNA,1\n,2\n", "f.csv")
    assert frame["text"].tolist() == ["NA", ""]
    assert frame["label"].tolist() == ["1", "2"]

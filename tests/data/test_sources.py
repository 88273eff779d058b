"""read_table: every format reads the same rows, and every failure is one fixable line."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from tunelab.data import read_table
from tunelab.errors import DataError

ROWS = [("I love it", "pos"), ("007 is back", "neu"), ("awful, really", "neg")]


def _as_pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(frame["text"], frame["label"], strict=True))


# --- formats -----------------------------------------------------------------------------


def test_csv_keeps_cells_as_strings(write_rows):
    frame = read_table(write_rows("train.csv", ROWS))
    assert list(frame.columns) == ["text", "label"]
    assert _as_pairs(frame) == ROWS  # "007" is not turned into 7


def test_csv_with_crlf_line_ends_leaves_no_carriage_returns(write_file):
    path = write_file("train.csv", 'text,label\r\nhello,a\r\n"two\r\nlines",b\r\n')
    frame = read_table(path)
    assert _as_pairs(frame) == [("hello", "a"), ("two\nlines", "b")]


def test_tsv(write_file):
    path = write_file("train.tsv", "text\tlabel\nhello, world\ta\nbye\tb\n")
    assert _as_pairs(read_table(path)) == [("hello, world", "a"), ("bye", "b")]


def test_jsonl_skips_blank_lines_and_keeps_types(write_file):
    lines = [json.dumps({"text": t, "label": i}) for i, (t, _) in enumerate(ROWS)]
    path = write_file("train.jsonl", "\n".join(lines[:2]) + "\n\n" + lines[2] + "\n")
    frame = read_table(path)
    assert frame["text"].tolist() == [t for t, _ in ROWS]
    assert frame["label"].tolist() == [0, 1, 2]


def test_json_list_of_objects(write_file):
    path = write_file("train.json", json.dumps([{"text": t, "label": y} for t, y in ROWS]))
    assert _as_pairs(read_table(path)) == ROWS


def test_json_file_holding_json_lines_reads_too(write_file):
    path = write_file("train.json", '{"text": "a", "label": "x"}\n{"text": "b", "label": "y"}')
    assert _as_pairs(read_table(path)) == [("a", "x"), ("b", "y")]


def test_jsonl_line_separator_inside_a_string_is_not_a_line_break(write_file):
    path = write_file("train.jsonl", '{"text": "a\u2028b", "label": "x"}\n')
    assert read_table(path)["text"].tolist() == ["a\u2028b"]


def test_parquet(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "train.parquet"
    pd.DataFrame(ROWS, columns=["text", "label"]).to_parquet(path)
    assert _as_pairs(read_table(str(path))) == ROWS


def test_parquet_without_pyarrow_says_what_to_install(write_file, monkeypatch):
    path = write_file("train.parquet", b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # makes `import pyarrow` fail
    with pytest.raises(DataError, match=r"data\.train \(.*train\.parquet\).*pip install pyarrow"):
        read_table(path)


def test_utf8_bom_is_dropped(write_file):
    path = write_file("train.csv", b"\xef\xbb\xbftext,label\nhi,a\n")
    assert list(read_table(path).columns) == ["text", "label"]


def test_builtin_source_through_read_table():
    frame = read_table("builtin:chatterbot-topics")
    assert list(frame.columns) == ["text", "label"]


# --- hf: datasets saved with save_to_disk ----------------------------------------------


@pytest.fixture
def hf_dataset_dir(tmp_path):
    datasets = pytest.importorskip("datasets")
    features = datasets.Features(
        {"sentence": datasets.Value("string"), "y": datasets.ClassLabel(names=["neg", "pos"])}
    )
    data = {"sentence": ["bad", "good", "fine"], "y": [0, 1, 1]}
    single = datasets.Dataset.from_dict(data, features=features)
    single.save_to_disk(str(tmp_path / "single"))
    both = datasets.DatasetDict({"train": single, "test": single.select([0])})
    both.save_to_disk(str(tmp_path / "dict"))
    return tmp_path


def test_hf_dataset_maps_class_label_ids_to_names(hf_dataset_dir):
    frame = read_table(f"hf:{hf_dataset_dir / 'single'}")
    assert frame["sentence"].tolist() == ["bad", "good", "fine"]
    assert frame["y"].tolist() == ["neg", "pos", "pos"]


def test_hf_dataset_dict_split(hf_dataset_dir):
    frame = read_table(f"hf:{hf_dataset_dir / 'dict'}#test")
    assert frame["sentence"].tolist() == ["bad"]


def test_hf_dataset_dict_without_split_lists_the_splits(hf_dataset_dir):
    with pytest.raises(DataError, match=r"DatasetDict with splits train, test; pick one with hf:"):
        read_table(f"hf:{hf_dataset_dir / 'dict'}")


def test_hf_unknown_split(hf_dataset_dir):
    with pytest.raises(DataError, match=r"no split 'dev'; the splits are: train, test"):
        read_table(f"hf:{hf_dataset_dir / 'dict'}#dev")


def test_hf_single_dataset_with_split_suffix(hf_dataset_dir):
    with pytest.raises(DataError, match=r"single Dataset has no splits; drop '#train'"):
        read_table(f"hf:{hf_dataset_dir / 'single'}#train")


def test_hf_missing_directory(tmp_path):
    pytest.importorskip("datasets")
    with pytest.raises(DataError, match=r"data\.validation: dataset directory '.*nope' not found"):
        read_table(f"hf:{tmp_path / 'nope'}", where="data.validation")


def test_hf_directory_that_is_not_a_dataset(tmp_path):
    pytest.importorskip("datasets")
    (tmp_path / "plain").mkdir()
    with pytest.raises(DataError, match=r"not a dataset written with save_to_disk"):
        read_table(f"hf:{tmp_path / 'plain'}")


def test_hf_without_datasets_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(DataError, match=r"needs the datasets package; pip install"):
        read_table(f"hf:{tmp_path}")


# --- errors ------------------------------------------------------------------------------


def test_missing_file_names_the_key_and_how_paths_resolve():
    with pytest.raises(DataError) as err:
        read_table("x.csv")
    assert str(err.value).startswith(
        "data.train: file 'x.csv' not found; check the path (relative paths are resolved "
        "from the current directory"
    )


def test_directory_instead_of_file_suggests_hf(tmp_path):
    with pytest.raises(DataError, match=r"is a directory, not a file; .* use hf:"):
        read_table(str(tmp_path), where="data.test")


def test_unsupported_extension(write_file):
    path = write_file("train.txt", "hello\n")
    with pytest.raises(DataError, match=r"\(.*train\.txt\): unsupported file type '\.txt'; use"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", "", r"the file is empty"),
        ("blank.jsonl", "\n  \n", r"the file is empty"),
        ("header.csv", "text,label\n", r"the file has no rows; add rows below the header"),
        ("none.json", "[]", r"the file has no rows"),
    ],
)
def test_empty_files(write_file, name, content, message):
    path = write_file(name, content)
    with pytest.raises(DataError, match=rf"data\.train \(.*{name}\): {message}"):
        read_table(path)


def test_csv_row_with_too_many_fields_names_the_line(write_file):
    path = write_file("train.csv", "text,label\nhello,a\nbad,b,extra\nok,c\n")
    with pytest.raises(DataError, match=r"train\.csv\): line 3 has 3 fields but the header has 2"):
        read_table(path)


def test_csv_unclosed_quote_names_the_line(write_file):
    path = write_file("train.csv", 'text,label\r\nhello,a\r\n"bad,b\r\nok,c\r\n')
    with pytest.raises(DataError, match=r"line 3 opens a quote that is never closed; quote"):
        read_table(path)


def _tsv(rows: list[tuple[str, str]]) -> str:
    return "text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows)


def _ninety_rows_one_stray_quote() -> list[tuple[str, str]]:
    rows = [(f"review number {i} was fine", ("pos", "neg")[i % 2]) for i in range(90)]
    rows[4] = ('"Great product, would buy again', "pos")  # opens a quote, never closes it
    rows[34] = ('he said "meh" and left', "neg")  # the next quote in the file
    return rows


def test_tsv_with_a_stray_quote_loses_no_row(write_file):
    rows = _ninety_rows_one_stray_quote()
    frame = read_table(write_file("train.tsv", _tsv(rows)))
    assert len(frame) == 90  # was 60: lines 6-36 became one 1,600-character text
    assert _as_pairs(frame) == rows


def test_tsv_with_a_stray_quote_and_no_later_quote_reads_every_row(write_file):
    rows = [("fine", "pos"), ('"unclosed', "neg"), ("also fine", "pos")]
    assert _as_pairs(read_table(write_file("train.tsv", _tsv(rows)))) == rows


def test_tsv_quoted_by_pandas_reads_unquoted(write_file, tmp_path):
    rows = [('say "hi"', "a"), ("two\nlines", "b"), ("tab\tinside", "c"), ("plain", "d")]
    path = tmp_path / "train.tsv"
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(path, sep="\t", index=False)
    assert _as_pairs(read_table(str(path))) == rows


def test_tsv_one_row_per_line_keeps_proper_quoting(write_file):
    path = write_file("train.tsv", 'text\tlabel\n"say ""hi"""\ta\nplain\tb\n')
    assert _as_pairs(read_table(path)) == [('say "hi"', "a"), ("plain", "b")]


def test_csv_quoted_multiline_text_still_reads(write_file):
    content = 'text,label\nfirst,a\n"two lines,\nwith a comma",b\n"say ""hi""",c\nlast,d\n'
    frame = read_table(write_file("train.csv", content))
    expected = [("first", "a"), ("two lines,\nwith a comma", "b"), ('say "hi"', "c"), ("last", "d")]
    assert _as_pairs(frame) == expected


def test_csv_stray_quote_joining_lines_names_both_lines(write_file):
    rows = [(text.replace(",", ""), label) for text, label in _ninety_rows_one_stray_quote()]
    content = "text,label\n" + "".join(f"{text},{label}\n" for text, label in rows)
    with pytest.raises(DataError) as caught:
        read_table(write_file("train.csv", content))
    assert str(caught.value).endswith(
        "train.csv): line 6 opens a quote that runs to line 36 and ends inside a text, "
        "joining 31 lines into one row; close the quote on line 6 (doubling any quote "
        "inside it) or remove it"
    )


def test_row_error_after_a_multiline_text_names_the_line_an_editor_shows(write_file):
    path = write_file("train.csv", 'text,label\n"one\ntwo\nthree",a\nok,b\nbad,c,extra\n')
    with pytest.raises(DataError, match=r"\): line 6 has 3 fields but the header has 2;"):
        read_table(path)


def test_jsonl_bad_line_is_named(write_file):
    path = write_file("train.jsonl", '{"text": "a", "label": 1}\n{"text": "b" "label": 2}\n')
    with pytest.raises(DataError, match=r"train\.jsonl\): line 2 column 14: not valid JSON"):
        read_table(path)


def test_jsonl_line_that_is_not_an_object(write_file):
    path = write_file("train.jsonl", '{"text": "a", "label": 1}\n[1, 2]\n')
    with pytest.raises(DataError, match=r"line 2 is not a JSON object \(got list\)"):
        read_table(path)


def test_json_list_item_that_is_not_an_object(write_file):
    path = write_file("train.json", '[{"text": "a", "label": 1},\n 3]')
    with pytest.raises(DataError, match=r"item 1 of the list is not an object \(got int\)"):
        read_table(path)


def test_json_list_syntax_error_names_the_line(write_file):
    path = write_file("train.json", '[{"text": "a", "label": 1},\n {"text": }]')
    with pytest.raises(DataError, match=r"line 2 column 11: not valid JSON"):
        read_table(path)


def test_non_utf8_bytes_name_line_and_offset_and_the_fix(write_file):
    path = write_file("train.csv", b"text,label\nhello,a\ncaf\xe9,b\n")
    with pytest.raises(DataError) as err:
        read_table(path, where="data.validation")
    assert str(err.value) == (
        f"data.validation ({path}): line 3 (byte offset 22) is not valid UTF-8 (byte 0xe9); "
        "re-encode the file as UTF-8 or set data.encoding_errors: replace"
    )


def test_non_utf8_bytes_with_replace_read_on(write_file):
    path = write_file("train.csv", b"text,label\nhello,a\ncaf\xe9,b\n")
    frame = read_table(path, encoding_errors="replace")
    assert _as_pairs(frame) == [("hello", "a"), ("caf\ufffd", "b")]


def test_unknown_builtin_lists_the_available_ones():
    with pytest.raises(DataError, match=r"unknown builtin dataset 'nope'; available: builtin:"):
        read_table("builtin:nope")

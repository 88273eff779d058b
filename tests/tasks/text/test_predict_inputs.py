"""``tunelab predict`` on text runs: record N is input N, blank or undecodable lines are
error records (never skipped), form feeds and U+2028 stay inside their line."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from tests.conftest import train_tiny_text_run
from tunelab.cli import app
from tunelab.tasks.text.predictor import read_texts, text_records

# line 2 blank, 3 holds a form feed and ends in \r\n, 4 holds U+2028, 5 is spaces only,
# 6 is not UTF-8; the final newline starts no seventh line.
LINES = b"".join(
    [
        b"pizza and pasta\n",
        b"\n",
        b"wifi\x0crouter\r\n",
        "score\u2028goal\n".encode(),
        b"   \n",
        b"caf\xe9 bread\n",
    ]
)


@pytest.fixture(scope="module")
def text_run(tiny_model_dir, tmp_path_factory):
    return train_tiny_text_run(tiny_model_dir, tmp_path_factory.mktemp("predict-inputs"))


def test_txt_lines_split_on_newline_only_and_keep_every_line(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"\xef\xbb\xbf" + LINES)
    records = read_texts(path, tmp_path)
    assert records == [
        {"line": 1, "text": "pizza and pasta"},
        {"line": 2, "text": "", "error": "empty text"},
        {"line": 3, "text": "wifi\x0crouter"},
        {"line": 4, "text": "score\u2028goal"},
        {"line": 5, "text": "   ", "error": "empty text"},
        {
            "line": 6,
            "text": "caf\ufffd bread",
            "error": "not UTF-8 (byte 0xe9 at position 4 of the line); save the file as UTF-8",
        },
    ]


def test_a_file_without_final_newline_keeps_its_last_line(tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"pizza\n\nwifi")
    assert [r["line"] for r in read_texts(path, tmp_path)] == [1, 2, 3]


def test_table_rows_are_numbered_and_an_empty_cell_is_an_error(text_run, tmp_path):
    path = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["pizza", None, "wifi router"], "label": ["a", "b", "c"]}).to_csv(
        path, index=False
    )
    assert read_texts(path, text_run) == [
        {"row": 1, "text": "pizza"},
        {"row": 2, "text": "", "error": "empty text"},
        {"row": 3, "text": "wifi router"},
    ]


def test_blank_arguments_are_error_records_naming_them():
    assert text_records(["pizza", " "]) == [
        {"text": "pizza"},
        {"text": " ", "error": "argument 2: empty text"},
    ]


def test_predict_records_keep_order_and_errors(text_run):
    import tunelab

    predictor = tunelab.load(text_run)
    records = [{"line": 1, "text": "pizza"}, {"line": 2, "text": "", "error": "empty text"}]
    records.append({"line": 3, "text": "wifi router"})
    out = predictor.predict_records(records)
    expected = predictor.predict(["pizza", "wifi router"])
    assert [r["line"] for r in out] == [1, 2, 3]
    assert out[1] == {"line": 2, "text": "", "error": "empty text"}
    assert [out[0]["label"], out[2]["label"]] == [p.label for p in expected]
    assert out[2]["probabilities"] == pytest.approx(expected[1].probabilities, abs=1e-6)


def test_cli_predict_prints_one_record_per_line_and_exits_2_on_bad_lines(text_run, tmp_path):
    path = tmp_path / "texts.txt"
    path.write_bytes(LINES)
    result = CliRunner().invoke(app, ["predict", str(text_run), "--input", str(path)])
    assert result.exit_code == 2, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["line"] for r in records] == [1, 2, 3, 4, 5, 6]
    assert [("error" in r) for r in records] == [False, True, False, False, True, True]
    assert records[2]["text"] == "wifi\x0crouter" and records[3]["text"] == "score\u2028goal"
    assert all(set(r) == {"line", "text", "label", "probabilities"} for r in records[::2][:2])
    assert result.stderr.splitlines() == [
        f"error: --input {path} line 2: empty text",
        f"error: --input {path} line 5: empty text",
        f"error: --input {path} line 6: not UTF-8 (byte 0xe9 at position 4 of the line); "
        "save the file as UTF-8",
    ]
    assert "Traceback" not in result.output


def test_cli_predict_of_good_lines_exits_0(text_run, tmp_path):
    path = tmp_path / "texts.txt"
    path.write_text("pizza and pasta\nwifi router\n")
    result = CliRunner().invoke(app, ["predict", str(text_run), "--input", str(path)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["line"] for line in result.stdout.splitlines()] == [1, 2]

"""The training commands in-process: a run then its predict / evaluate, and every bad
input to ``run`` → one line, exit 2, nothing written."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from tests.conftest import make_texts
from tunelab.cli import app

runner = CliRunner()


def _invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def _config_file(tmp_path, config: dict) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and "\n" not in message.replace("\n ", " "), message
    assert "Traceback" not in result.output + result.stderr
    for fragment in fragments:
        assert fragment in " ".join(message.split()), message


def test_run_predict_evaluate_happy_path(tiny_config, tmp_path):
    config = _config_file(tmp_path, tiny_config)
    out = tmp_path / "run"
    result = _invoke("run", config, "--set", "train.epochs=1", "--output", out)
    assert result.exit_code == 0, result.output
    assert "parameters trainable" in result.output and str(out) in result.output

    result = _invoke("predict", out, "pizza and pasta", "wifi router")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [set(row) for row in lines] == [{"text", "label", "probabilities"}] * 2
    assert sum(lines[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)

    data = tmp_path / "new.csv"
    make_texts(5, seed=3).to_csv(data, index=False)
    result = _invoke("evaluate", out, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n"] == 15


@pytest.mark.parametrize(
    ("mutate", "fragments"),
    [
        (lambda c, p: c["data"].update(train=str(p / "missing.csv")), ["missing.csv", "not found"]),
        (lambda c, p: c["data"].update(text_column="body"), ["'body'", "data.text_column"]),
        (lambda c, p: c["model"].update(name="no-such-model"), ["no-such-model", "tunelab models"]),
        (lambda c, p: c["train"].update(lr_rate=0.1), ["unknown key 'train.lr_rate'"]),
        (lambda c, p: c["train"].update(epochs="many"), ["train.epochs"]),
    ],
    ids=["missing-file", "wrong-column", "unknown-model", "unknown-key", "bad-type"],
)
def test_bad_config_inputs(tiny_config, tmp_path, mutate, fragments):
    mutate(tiny_config, tmp_path)
    out = tmp_path / "run"
    result = _invoke("run", _config_file(tmp_path, tiny_config), "--output", out)
    _assert_one_line_error(result, *fragments)
    assert not out.exists(), "nothing may be written on bad input"


def _data_case(tmp_path, name: str):
    train = tmp_path / "train.csv"
    make_texts(10).to_csv(train, index=False)
    extra: dict = {}
    if name == "empty":
        train.write_text("")
    elif name == "non-utf8":
        train.write_bytes(b"text,label\nhello,a\n\xff\xfe broken,b\nfine,a\nok,b\n")
    elif name == "unseen-label":
        test = tmp_path / "test.csv"
        test.write_text("text,label\npizza,food\nsomething,astronomy\n")
        extra = {"test": str(test)}
    elif name == "singleton-class":
        frame = make_texts(10)
        frame.loc[len(frame)] = {"text": "a lonely example", "label": "rare"}
        frame.to_csv(train, index=False)
    return {"train": str(train), **extra}


@pytest.mark.parametrize(
    ("case", "fragments"),
    [
        ("empty", ["train.csv", "empty"]),
        ("non-utf8", ["train.csv", "line 3", "UTF-8"]),
        ("unseen-label", ["'astronomy'", "data.test"]),
        ("singleton-class", ["'rare'", "data.min_class_count"]),
    ],
)
def test_bad_data_inputs(tiny_config, tmp_path, case, fragments):
    tiny_config["data"].update(_data_case(tmp_path, case))
    out = tmp_path / "run"
    result = _invoke("run", _config_file(tmp_path, tiny_config), "--output", out)
    _assert_one_line_error(result, *fragments)
    assert not out.exists()


def test_output_dir_with_another_run(tiny_config, tmp_path):
    out = tmp_path / "run"
    tiny_config["train"]["epochs"] = 1
    config = _config_file(tmp_path, tiny_config)
    assert _invoke("run", config, "--output", out).exit_code == 0
    before = (out / "metrics.json").read_text()
    result = _invoke("run", config, "--set", "train.lr=0.5", "--output", out)
    _assert_one_line_error(result, "holds another run", "--resume", "--overwrite")
    assert (out / "metrics.json").read_text() == before


def test_bad_override_and_missing_run_dir(tmp_path):
    _assert_one_line_error(_invoke("run", "--set", "train.lr"), "KEY=VALUE")
    _assert_one_line_error(_invoke("predict", tmp_path / "nope", "hi"), "no trained model")
    _assert_one_line_error(_invoke("run", tmp_path / "absent.yaml"), "absent.yaml", "not found")

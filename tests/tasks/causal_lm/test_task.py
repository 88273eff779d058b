"""The causal-LM task through the core: config, run, metrics, save/reload, predict, serve."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

import tunelab
from tests.conftest import make_chats, write_jsonl
from tunelab.cli import app
from tunelab.config import load_config
from tunelab.errors import ConfigError

runner = CliRunner()


def _config(lm_dir, root, strategy="full", **train) -> dict:
    write_jsonl(root / "chats.jsonl", make_chats(60))
    return {
        "task": "causal_lm",
        "model": {"name": str(lm_dir), "max_length": 32},
        "data": {"train": str(root / "chats.jsonl"), "reference_text": None},
        "strategy": {"name": strategy},
        "train": {
            "epochs": 3,
            "batch_size": 8,
            "lr": 3e-3,
            "seed": 0,
            "device": "cpu",
            "generate_samples": 4,
            "max_new_tokens": 6,
            **train,
        },
    }


def test_config_sections_are_the_language_models():
    cfg = load_config(None, ["task=causal_lm", "train.lr=2e-4"])
    assert cfg.model.name == "SmolLM2-135M-Instruct" and cfg.train.head_lr == 2e-4
    assert cfg.train.early_stopping.metric == "loss" and cfg.train.early_stopping.mode == "min"
    with pytest.raises(ConfigError, match="does not apply to task 'causal_lm'"):
        load_config(None, ["task=causal_lm", "strategy.name=feature_extraction"])
    with pytest.raises(ConfigError, match="'model.pooling'"):
        load_config(None, ["task=causal_lm", "model.pooling=cls"])


def test_run_learns_the_answers_and_records_base_and_generation(tiny_lm_dir, tmp_path):
    result = tunelab.fine_tune(_config(tiny_lm_dir, tmp_path), tmp_path / "run")
    test = result.metrics["test"]
    base = result.metrics["baseline"]["test"]
    assert test["perplexity"] < base["perplexity"] / 2, "fine-tuning must beat the random base"
    for key in ("chrf", "exact_match", "stop_rate", "ms_per_token_p50", "base_perplexity"):
        assert key in test
    assert test["base_perplexity"] == base["perplexity"]
    assert result.metrics["objective"]["monitor"] == "loss"
    history = result.history
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    sample = result.metrics["samples"][0]
    assert {"prompt", "reference", "tuned", "base"} <= set(sample)

    from tunelab.report import write_report

    html = write_report(result.run_dir).read_text()
    assert "Sample generations" in html and "Base model vs fine-tuned" in html
    assert "perplexity" in html and "macro-F1" not in html


@pytest.mark.parametrize("strategy", ["full", "lora"])
def test_saved_model_loads_with_plain_transformers_and_gives_the_same_tokens(
    strategy, tiny_lm_dir, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = _config(tiny_lm_dir, tmp_path, strategy, epochs=1)
    result = tunelab.fine_tune(config, tmp_path / "run")
    model_dir = result.run_dir / "model"
    ours = tunelab.load(result.run_dir)
    plain = AutoModelForCausalLM.from_pretrained(str(model_dir)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "how are you ?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        expected = plain.generate(ids, max_new_tokens=6, do_sample=False)[0, ids.shape[1] :]
    generated = ours.predict("how are you ?", max_new_tokens=6)[0]
    assert generated.text == tokenizer.decode(expected, skip_special_tokens=True).strip()
    assert (model_dir / ("adapter_config.json" if strategy == "lora" else "config.json")).is_file()


def test_predict_and_serve_generate(tiny_lm_dir, tmp_path):
    from fastapi.testclient import TestClient

    from tunelab.serve import create_app

    run = tunelab.fine_tune(_config(tiny_lm_dir, tmp_path, epochs=1), tmp_path / "run").run_dir
    out = runner.invoke(app, ["predict", str(run), "how are you ?"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout.splitlines()[0])
    assert record["prompt"] == "how are you ?" and "generated" in record
    too_long = " ".join(["hello"] * 60)
    refused = runner.invoke(app, ["predict", str(run), too_long])
    assert refused.exit_code == 2 and "more than model.max_length 32" in refused.output
    client = TestClient(create_app(run))
    answer = client.post("/predict", json={"prompts": ["what is the capital of france ?"]})
    assert answer.status_code == 200 and "generated" in answer.json()[0]
    assert client.post("/predict", json={"texts": ["hi"]}).status_code == 422


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"text_only": "hi"}], "expected 'messages'"),
        (
            [
                {
                    "messages": [
                        {"role": "user", "content": "hi"},
                        {"role": "assistant", "content": ""},
                    ]
                }
            ],
            "empty",
        ),
    ],
)
def test_bad_rows_are_one_line_and_write_nothing(rows, message, tiny_lm_dir, tmp_path):
    config = _config(tiny_lm_dir, tmp_path)
    write_jsonl(tmp_path / "chats.jsonl", rows * 10)
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    out = runner.invoke(app, ["run", str(tmp_path / "c.yaml"), "--output", str(tmp_path / "o")])
    assert out.exit_code == 2 and message in out.output
    assert len(out.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_an_encoder_directory_is_not_a_causal_lm(tiny_model_dir, tiny_lm_dir, tmp_path):
    config = _config(tiny_lm_dir, tmp_path)
    config["model"]["name"] = str(tiny_model_dir)
    (tmp_path / "c.yaml").write_text(json.dumps(config))
    out = runner.invoke(app, ["run", str(tmp_path / "c.yaml"), "--output", str(tmp_path / "o")])
    assert out.exit_code == 2 and "is not a causal LM (model_type bert)" in out.output


def test_compare_has_a_base_row(tiny_lm_dir, tmp_path):
    from tunelab.comparison import compare

    result = compare(
        _config(tiny_lm_dir, tmp_path, epochs=1),
        ["base", "full"],
        output_dir=tmp_path / "cmp",
        report=False,
    )
    rows = {r["strategy"]: r for r in result.summary["strategies"]}
    assert set(rows) == {"base", "full"} and rows["base"]["trainable_params"] == 0
    assert rows["full"]["perplexity_mean"] < rows["base"]["perplexity_mean"]


def test_default_search_space_fits_the_language_model_config():
    from tunelab.hpsearch.space import parse_space

    keys = {p.key for p in parse_space(load_config(None, ["task=causal_lm", "strategy.name=lora"]))}
    assert "model.head.dropout" not in keys and {"train.lr", "strategy.lora.r"} <= keys


def test_search_minimises_validation_loss(tiny_lm_dir, tmp_path):
    from tunelab.hpsearch import search

    config = _config(tiny_lm_dir, tmp_path, epochs=1)
    config["search"] = {"isolation": "inprocess", "space": {"train.lr": {"choice": [1e-4, 3e-3]}}}
    result = search(config, trials=2, output_dir=tmp_path / "search", report=False)
    assert result.best_config is not None
    summary = json.loads((tmp_path / "search" / "search_summary.json").read_text())
    assert summary["metric"] == "loss" and summary["direction"] == "minimize"


def test_packed_and_merged_run_saves_a_plain_model(tiny_lm_dir, tmp_path):
    config = _config(tiny_lm_dir, tmp_path, "lora", epochs=1)
    config["data"]["pack"] = True
    config["strategy"]["lora"] = {"merge": True}
    result = tunelab.fine_tune(config, tmp_path / "run")
    assert result.metrics["steps"] >= 1 and result.metrics["test"]["perplexity"] > 0
    model_dir = result.run_dir / "model"
    assert (model_dir / "config.json").is_file() and not (
        model_dir / "adapter_config.json"
    ).exists()
    assert json.loads((model_dir / "tunelab_model.json").read_text())["format"] == "full"

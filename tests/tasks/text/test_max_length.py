"""``model.max_length`` past the backbone's position table is a ModelError when the model
is built, not an index error in the first forward pass."""

from __future__ import annotations

import pytest
from transformers import BertConfig, BertModel, RobertaConfig, RobertaModel

from tunelab.errors import ModelError
from tunelab.tasks.text.config import TextModelConfig
from tunelab.tasks.text.model import build_text_classifier, position_limit


def test_max_length_past_the_position_table_is_a_model_error(tiny_model_dir):
    cfg = TextModelConfig(name=str(tiny_model_dir), max_length=65)
    with pytest.raises(ModelError) as raised:
        build_text_classifier(cfg, num_classes=3)
    message = str(raised.value)
    assert message == (
        f"model.max_length=65 but {tiny_model_dir} has position embeddings for 64 tokens; "
        "set model.max_length <= 64"
    )


def test_max_length_at_the_table_size_builds_and_runs(tiny_model_dir):
    import torch

    cfg = TextModelConfig(name=str(tiny_model_dir), max_length=64)
    model, tokenizer, _ = build_text_classifier(cfg, num_classes=3)
    batch = tokenizer(["pizza " * 200], truncation=True, max_length=64, return_tensors="pt")
    assert batch["input_ids"].shape == (1, 64)
    with torch.inference_mode():
        assert model(**batch).shape == (1, 3)


def _small(config_class, **kw):
    return config_class(
        vocab_size=50,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        **kw,
    )


def test_position_limit_counts_the_roberta_padding_offset():
    bert = BertModel(_small(BertConfig, max_position_embeddings=512))
    roberta = RobertaModel(_small(RobertaConfig, max_position_embeddings=514, pad_token_id=1))
    assert position_limit(bert) == 512
    assert position_limit(roberta) == 512  # positions start after padding_idx 1


def test_the_roberta_limit_is_what_the_embeddings_can_index():
    import torch

    roberta = RobertaModel(_small(RobertaConfig, max_position_embeddings=20, pad_token_id=1))
    limit = position_limit(roberta)
    assert limit == 18
    ids = torch.full((1, limit), 5)
    assert roberta(input_ids=ids).last_hidden_state.shape == (1, limit, 16)
    with pytest.raises((IndexError, RuntimeError)):  # the table ends one position later
        roberta(input_ids=torch.full((1, limit + 1), 5))


def test_a_config_that_sets_max_length_too_high_fails_in_one_cli_line(tiny_config, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from tunelab.cli import app

    tiny_config["model"]["max_length"] = 1024
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    result = CliRunner().invoke(app, ["run", str(path), "--output", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "model.max_length=1024" in result.stderr and "<= 64" in result.stderr
    assert "Traceback" not in result.output


def test_an_unset_max_length_is_not_checked(tiny_model_dir):
    """The default (128) exceeds the tiny model's 64 positions; only a value the config
    sets is checked, so models built from defaults (``tunelab layers``) still build."""
    cfg = TextModelConfig(name=str(tiny_model_dir))
    assert cfg.max_length == 128 and "max_length" not in cfg.model_fields_set
    model, _, _ = build_text_classifier(cfg, num_classes=2)
    assert model.head is not None

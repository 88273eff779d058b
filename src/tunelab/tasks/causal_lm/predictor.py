"""Generate from a fine-tuned causal LM: the predictor ``tunelab.load`` returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from tunelab.errors import DataError
from tunelab.tasks.causal_lm.module import CausalLM
from tunelab.tasks.causal_lm.prompts import render_prompt


@dataclass
class Generation:
    """One prompt's answer: the text, whether the model ended it itself, its length."""

    text: str
    stopped: bool
    new_tokens: int

    def to_dict(self) -> dict[str, Any]:
        """The JSON record ``predict`` prints and ``serve`` returns."""
        return {"generated": self.text, "stopped": self.stopped, "new_tokens": self.new_tokens}


class CausalLMPredictor:
    """A causal LM with its tokenizer: prompts in (chat template applied), text out.

    A prompt longer than ``max_length`` tokens is refused rather than cut: which end to
    cut loses either the question or its context, and the user should choose.
    """

    def __init__(
        self,
        model: CausalLM,
        tokenizer,
        max_length: int,
        max_new_tokens: int = 48,
        device: str | torch.device = "cpu",
    ) -> None:
        self.model = model.to(device).eval()
        self.tokenizer, self.max_length = tokenizer, max_length
        self.max_new_tokens, self.device = max_new_tokens, torch.device(device)

    @torch.inference_mode()
    def predict(
        self,
        prompts: Sequence[str] | str,
        max_new_tokens: int | None = None,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> list[Generation]:
        """One :class:`Generation` per prompt: greedy, or sampled at ``temperature``."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        limit = max_new_tokens or self.max_new_tokens
        return [
            self._generate(self._ids(p, i), limit, temperature, seed) for i, p in enumerate(prompts)
        ]

    def predict_records(self, records: Sequence[dict]) -> list[dict]:
        """Each input record with its generation added, in order; a record that already
        holds an ``error``, or whose prompt is refused, keeps its error instead."""
        out = []
        for i, record in enumerate(records):
            if "error" in record:
                out.append(dict(record))
                continue
            try:
                ids = self._ids(record["prompt"], i)
            except DataError as err:
                out.append({**record, "error": str(err)})
                continue
            out.append({**record, **self._generate(ids, self.max_new_tokens, 0.0, 0).to_dict()})
        return out

    def _ids(self, prompt: str, index: int) -> list[int]:
        if not isinstance(prompt, str) or not prompt.strip():
            raise DataError(f"prompt {index + 1} is empty; give the text to answer")
        ids = render_prompt(self.tokenizer, [{"role": "user", "content": prompt}])
        if len(ids) > self.max_length:
            raise DataError(
                f"prompt {index + 1} is {len(ids)} tokens, more than model.max_length "
                f"{self.max_length}; shorten it (prompts are never cut silently)"
            )
        return ids

    def _generate(self, ids: list[int], limit: int, temperature: float, seed: int) -> Generation:
        hf = self.model.backbone
        torch.manual_seed(seed)
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {}
        out = hf.generate(
            input_ids=torch.tensor([ids], device=self.device),
            attention_mask=torch.ones(1, len(ids), dtype=torch.long, device=self.device),
            max_new_tokens=limit,
            do_sample=bool(sampling),
            pad_token_id=self.tokenizer.pad_token_id,
            **{k: v for k, v in sampling.items() if k != "do_sample"},
        )
        new = out[0, len(ids) :].tolist()
        stop_ids = _stop_ids(hf, self.tokenizer)
        stopped = bool(new) and new[-1] in stop_ids
        text = self.tokenizer.decode(new, skip_special_tokens=True).strip()
        return Generation(text, stopped, len(new))


def _stop_ids(model, tokenizer) -> set[int]:
    from tunelab.tasks.causal_lm.metrics import stop_token_ids

    return stop_token_ids(model, tokenizer)


def load_causal_predictor(model_dir: Path, card: dict, device: str = "cpu") -> CausalLMPredictor:
    """The saved model: a full HF directory, or its base model plus the LoRA adapter."""
    from tunelab.strategies.lora import load_adapter
    from tunelab.tasks.causal_lm.model import load_causal_lm, load_causal_tokenizer

    if card["format"] == "lora":
        base, _ = load_causal_lm(Path(card["base_model"]))
        backbone = load_adapter(base, model_dir)
    else:
        backbone, _ = load_causal_lm(model_dir)
    tokenizer = load_causal_tokenizer(model_dir)
    return CausalLMPredictor(
        CausalLM(backbone), tokenizer, card["max_length"], card["max_new_tokens"], device
    )

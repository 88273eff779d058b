"""The ``model``, ``data`` and ``train`` sections of a causal-LM run."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from tunelab.config import DataConfig, ModelConfig, TrainConfig


class CausalLMModelConfig(ModelConfig):
    """A local HF causal-LM directory (or a known name such as SmolLM2-135M-Instruct)."""

    name: str = "SmolLM2-135M-Instruct"
    max_length: int = Field(256, ge=8)  # tokens per training example (longer are cut)


class CausalLMDataConfig(DataConfig):
    """Rows of chat ``messages``, ``prompt``/``completion`` pairs, or plain ``text``.

    ``format: auto`` reads the first row: a messages column means chat, prompt and
    completion columns mean pairs, else plain text. ``pack`` concatenates examples into
    ``max_length`` blocks (documents stay apart: position ids restart per document).
    """

    format: Literal["auto", "chat", "pairs", "text"] = "auto"
    messages_column: str = "messages"
    prompt_column: str = "prompt"
    completion_column: str = "completion"
    text_column: str = "text"
    chat_template: bool = True  # pairs: render the prompt as a user turn, as at inference
    pack: bool = False
    max_rows: int | None = Field(None, ge=3)  # a seeded sample of the source, for quick runs
    # General text (not the fine-tuning data) whose perplexity before vs after training
    # measures forgetting; ``builtin:sklearn-descr`` is English prose shipped with
    # scikit-learn, or a .txt file.
    reference_text: str | None = "builtin:sklearn-descr"


class CausalLMTrainConfig(TrainConfig):
    """Training settings of a language model, and how generations are scored.

    The output side (final norm + lm_head) is pretrained, not new: it trains at
    ``lr`` unless ``head_lr`` is set.
    """

    eval_batch_size: int = Field(8, ge=1)  # logits are batch x length x vocabulary
    generate_samples: int = Field(24, ge=0)  # held-out prompts answered greedily at the end
    max_new_tokens: int = Field(48, ge=1)

    @model_validator(mode="after")
    def _head_lr_follows_lr(self) -> CausalLMTrainConfig:
        if "head_lr" not in self.model_fields_set:
            object.__setattr__(self, "head_lr", self.lr)
        return self

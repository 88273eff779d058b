"""The ``model/`` directory of a question-answering run: a plain HF QA model.

``AutoModelForQuestionAnswering.from_pretrained(model/)`` (and transformers'
question-answering pipeline) load it as it is: ``config.json``, ``model.safetensors``
with the encoder under its base-model prefix and the head as ``qa_outputs``, and the
tokenizer. LoRA adapters are merged first, so every strategy saves the same format.
``tunelab_model.json`` adds what ``tunelab.load`` needs: windows, decoding, and the
no-answer threshold tuned on validation.
"""

from __future__ import annotations

from pathlib import Path

from tunelab.config import Config
from tunelab.errors import RunDirError
from tunelab.io import replace_dir
from tunelab.run_dir import write_model_card
from tunelab.strategies.lora import merged
from tunelab.tasks.question_answering.model import SpanHead, SpanModel


def to_hf_model(model: SpanModel):
    """The span model as an ``AutoModelForQuestionAnswering`` with the same weights."""
    from transformers import AutoModelForQuestionAnswering

    backbone = merged(model.backbone)
    hf = AutoModelForQuestionAnswering.from_config(backbone.config)
    missing, unexpected = hf.base_model.load_state_dict(backbone.state_dict(), strict=False)
    if unexpected or any(not name.startswith("pooler.") for name in missing):
        raise RunDirError(f"the encoder's weights do not fit its QA model ({missing[:3]})")
    hf.qa_outputs.load_state_dict(model.head.state_dict())
    return hf


def save_span_model(
    model_dir: Path, model: SpanModel, tokenizer, cfg: Config, threshold: float | None
) -> Path:
    """Write ``model_dir`` atomically."""
    card = {
        "task": cfg.task,
        "format": "hf-question-answering",
        "max_length": cfg.model.max_length,
        "doc_stride": cfg.model.doc_stride,
        "n_best": cfg.model.n_best,
        "max_answer_length": cfg.model.max_answer_length,
        "no_answer_threshold": threshold,
        "strategy": cfg.strategy.name,
    }
    hf = to_hf_model(model)

    def fill(tmp: Path) -> None:
        hf.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        write_model_card(tmp, card)

    return replace_dir(model_dir, fill)


def load_span_model(model_dir: Path) -> SpanModel:
    """The span model of a saved QA directory (weights only: no code is run)."""
    from transformers import AutoModelForQuestionAnswering

    try:
        hf = AutoModelForQuestionAnswering.from_pretrained(str(model_dir), trust_remote_code=False)
    except (OSError, ValueError) as err:
        raise RunDirError(f"{model_dir}: cannot load the QA model ({type(err).__name__})") from None
    head = SpanHead(hf.qa_outputs.in_features)
    head.load_state_dict(hf.qa_outputs.state_dict())
    return SpanModel(hf.base_model, head)

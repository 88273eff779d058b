"""The extractive question-answering task: a pre-trained encoder taught to point at
the answer span in a context (SQuAD)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from tunelab.config import Config, TrainConfig
from tunelab.tasks.base import (
    SPLIT_NAMES,
    BuiltModel,
    ExportSignature,
    Task,
    TaskSections,
    register_task,
)
from tunelab.tasks.export_modules import TokenLogits
from tunelab.tasks.question_answering.config import QADataConfig, QAModelConfig
from tunelab.tasks.question_answering.objective import SpanObjective

SAMPLE_INPUTS = (
    [("Who wrote it?", "The book was written by Ann in 1990.")],
    [
        ("When?", "It rained all day."),
        ("Where is the station?", "The station is north of the river, past the bridge."),
    ],
)


@register_task
class QuestionAnsweringTask(Task):
    """Answer a question with a span of its context: start/end head on an encoder."""

    name = "question_answering"
    noun = "questions"
    row_noun = "question windows"
    input_key = "question"
    request_key = "questions"
    request_is_text = False  # items are {question, context} objects, bounded by the body
    input_fields = ("question", "context")
    objective_class = SpanObjective

    def sections(self) -> TaskSections:
        return TaskSections(QAModelConfig, QADataConfig, TrainConfig)

    # -------------------------------------------------------------- training
    def prepare_data(self, cfg: Config):
        from tunelab.tasks.question_answering.splits import drop_long_questions, prepare_qa_data
        from tunelab.tasks.question_answering.windows import question_limit

        splits = prepare_qa_data(cfg.data)
        tokenizer = _tokenizer(cfg)
        limit = question_limit(cfg.model.max_length, cfg.model.doc_stride)
        drop_long_questions(splits, tokenizer, limit)
        return splits

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.question_answering.model import build_span_model

        model, tokenizer, path = build_span_model(cfg.model)
        return BuiltModel(model, tokenizer, path if cfg.model.pretrained else None)

    def objective(self, cfg: Config, splits) -> SpanObjective:
        from tunelab.tasks.question_answering.decode import Decoding

        decoding = Decoding(cfg.model.n_best, cfg.model.max_answer_length)
        return SpanObjective(splits.windows, decoding, splits.state, splits.has_unanswerable)

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, Any]:
        from tunelab.tasks.question_answering.windows import WindowBatches, tokenize_windows

        pad = built.processor.pad_token_id or 0
        splits.windows = {
            name: tokenize_windows(
                built.processor, splits.split(name), cfg.model.max_length, cfg.model.doc_stride
            )
            for name in SPLIT_NAMES
        }
        sources = {
            name: WindowBatches.build(windows, name, pad, fixed_width=cached)
            for name, windows in splits.windows.items()
        }
        counts = ", ".join(f"{len(s):,} {n}" for n, s in sources.items())
        model = cfg.model
        console.print(f"windows of {model.max_length} tokens (stride {model.doc_stride}): {counts}")
        return sources

    def feature_cache_key(self, cfg: Config, built: BuiltModel, splits, split: str) -> str:
        from tunelab.features import cache_key

        options = {"model": cfg.model.model_dump(), "task": self.name}
        texts = [f"{e.question}\0{e.context}" for e in splits.split(split)]
        return cache_key(built.source or Path("."), options, texts)

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device) -> dict:
        """The no-answer threshold used on test, and the test questions the report shows."""
        from tunelab.tasks.question_answering.samples import report_examples

        return {
            "no_answer_threshold": splits.state.threshold,
            "qa_examples": report_examples(splits.state.predictions.get("test", [])),
        }

    # -------------------------------------------------------------- shipping
    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.question_answering.decode import Decoding
        from tunelab.tasks.question_answering.predictor import QAPredictor

        return QAPredictor(
            model,
            built.processor,
            cfg.model.max_length,
            cfg.model.doc_stride,
            Decoding(cfg.model.n_best, cfg.model.max_answer_length),
            splits.state.threshold,
            device,
        )

    def examples(self, split) -> tuple[list, list]:
        inputs = [{"question": e.question, "context": e.context} for e in split]
        return inputs, [[a.text for a in e.answers] for e in split]

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.question_answering.save import save_span_model

        return save_span_model(model_dir, model, built.processor, cfg, splits.state.threshold)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.question_answering.predictor import load_qa_predictor

        return load_qa_predictor(model_dir, card, device)

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """``{"question", "context"}`` from ``--question`` / ``--context``, then one per
        row of a JSONL / CSV ``--input``; an unusable one carries an ``error``."""
        from tunelab.tasks.question_answering.inputs import field_records, file_records

        records = field_records(arguments, fields)
        return records + (file_records(Path(input_file), run_dir) if input_file else [])

    def request_inputs(self, payload: dict[str, Any]) -> list:
        from tunelab.tasks.question_answering.inputs import request_items

        return request_items(payload)

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.question_answering.evaluate import evaluate_questions

        return evaluate_questions(predictor, run_dir, source)

    def export_signature(self, predictor) -> ExportSignature:
        samples = []
        for pairs in SAMPLE_INPUTS:
            batch = predictor.tokenizer(
                [q for q, _ in pairs],
                [c for _, c in pairs],
                padding=True,
                truncation="only_second",
                max_length=predictor.max_length,
                return_tensors="pt",
            )
            samples.append({k: batch[k] for k in _TOKEN_INPUTS if k in batch})
        dynamic = {name: {0: "batch", 1: "sequence"} for name in samples[0]}
        return ExportSignature(_SpanLogits(predictor.model), samples, dynamic, "span_logits")

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.layers import model_layer_groups
        from tunelab.tasks.question_answering.model import build_span_model

        model, _, _ = build_span_model(QAModelConfig(name=model_name))
        return [{"name": g.name, "params": g.num_params} for g in model_layer_groups(model)]

    def report_sections(self, run) -> list:
        from tunelab.tasks.question_answering.report import qa_report_sections

        return qa_report_sections(run)


_TOKEN_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class _SpanLogits(TokenLogits):
    """Token ids and mask (and token types) -> ``[batch, 2, tokens]`` start/end logits:
    softmax over the last axis is the start / end distribution, which export checks."""

    def arrange(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.transpose(1, 2)


def _tokenizer(cfg: Config):
    from tunelab.models.registry import resolve_model_path
    from tunelab.tasks.text.model import load_tokenizer

    return load_tokenizer(resolve_model_path(cfg.model.name), cfg.model.trust_remote_code)

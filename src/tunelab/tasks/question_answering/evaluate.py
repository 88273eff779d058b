"""``tunelab evaluate`` for a question-answering run: SQuAD scores on a labelled source."""

from __future__ import annotations

from pathlib import Path

import yaml

from tunelab.errors import DataError
from tunelab.metrics import measure_latency
from tunelab.tasks.question_answering.data import SpanCheck, check_spans, read_examples
from tunelab.tasks.question_answering.metrics import squad_scores
from tunelab.tasks.question_answering.predictor import QAPredictor

LATENCY_SAMPLES = 50


def evaluate_questions(predictor: QAPredictor, run_dir: Path, source: str) -> dict:
    """Exact match and F1 (0-100) of the run's model on ``source`` (SQuAD JSON, JSONL,
    CSV or builtin), with latency per question; columns as the run's config names them.

    Raises:
        DataError: an unreadable source, or one without questions.
    """
    examples = read_examples(source, "--data", _columns(run_dir))
    check = SpanCheck()
    examples = check_spans(examples, "--data", "drop", check)
    if not examples:
        raise DataError(f"--data {source}: no questions with a usable answer")
    inputs = [{"question": e.question, "context": e.context} for e in examples]
    answers = predictor.predict(inputs)
    golds = [[g.text for g in e.answers] for e in examples]
    metrics = squad_scores([a.text for a in answers], golds)
    metrics.update(measure_latency(lambda x: predictor.predict([x]), inputs[:LATENCY_SAMPLES]))
    metrics["n"] = len(examples)
    metrics["mismatched_answers"] = check.mismatched
    return metrics


def _columns(run_dir: Path) -> dict[str, str]:
    config = Path(run_dir) / "config.yaml"
    data = yaml.safe_load(config.read_text()).get("data", {}) if config.is_file() else {}
    return {
        key: data.get(f"{key}_column", key)
        for key in ("context", "question", "answer_text", "answer_start")
    }

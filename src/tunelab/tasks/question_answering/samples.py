"""The test questions a run's report shows, picked when the run ends (``metrics.json``
"qa_examples"): kept apart from the report module, which loads the plotting stack."""

from __future__ import annotations

from tunelab.tasks.question_answering.metrics import score_one

SHOWN = 8


def report_examples(predictions: list[dict], shown: int = SHOWN) -> dict[str, list[dict]]:
    """Test questions to show: the first ``shown`` answered exactly, and the ``shown``
    worst misses (lowest F1, the most confident first)."""
    scored = []
    for record in predictions:
        golds = [a["text"] for a in record["answers"]]
        exact, f1 = score_one(record["answer"], golds)
        scored.append({**record, "exact": exact, "f1": f1})
    answered = [r for r in scored if r["exact"] and r["answer"]][:shown]
    worst = sorted((r for r in scored if not r["exact"]), key=lambda r: (r["f1"], -r["score"]))
    return {"answered": answered, "worst": worst[:shown]}

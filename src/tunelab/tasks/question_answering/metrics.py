"""SQuAD exact match and token F1, as the official evaluation scripts compute them.

Answers are normalised as ``evaluate-v2.0.py`` does: lower case, punctuation removed,
the articles a/an/the removed, whitespace collapsed. A prediction scores the best over
the question's gold answers. An unanswerable question (no gold answer) counts as
answered correctly only by the empty prediction; that is SQuAD 2.0's rule, and on
answerable questions the v1.1 and v2.0 scores are identical. Scores are 0-100, as the
scripts print them. (The ``evaluate`` library's ``squad`` metric downloads its script at
run time, so the fifty lines are here instead, tested against the script's outputs.)
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """Lower case, no punctuation, no articles, single spaces (SQuAD's normalisation)."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def token_f1(prediction: str, gold: str) -> float:
    """F1 over the bag of normalised tokens; two empty answers agree (1.0)."""
    predicted, expected = normalize_answer(prediction).split(), normalize_answer(gold).split()
    if not predicted or not expected:
        return float(predicted == expected)
    same = sum((Counter(predicted) & Counter(expected)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(predicted), same / len(expected)
    return 2 * precision * recall / (precision + recall)


def gold_texts(answers: Sequence[str]) -> list[str]:
    """The gold answers scored against: non-empty after normalisation, or ``[""]``."""
    kept = [a for a in answers if normalize_answer(a)]
    return kept or [""]


def score_one(prediction: str, answers: Sequence[str]) -> tuple[float, float]:
    """``(exact, f1)`` of a prediction: the best over the gold answers, each 0 or 1 / 0-1."""
    golds = gold_texts(answers)
    return (
        max(exact_match(prediction, g) for g in golds),
        max(token_f1(prediction, g) for g in golds),
    )


def squad_scores(predictions: Sequence[str], answers: Sequence[Sequence[str]]) -> dict:
    """``exact_match`` and ``f1`` (0-100), and the split by has-answer / no-answer when
    some questions have no answer (SQuAD 2.0's ``HasAns`` / ``NoAns``)."""
    scored = [score_one(p, a) for p, a in zip(predictions, answers, strict=True)]
    has_answer = [gold_texts(a) != [""] for a in answers]
    out = _mean_scores(scored, "")
    if not all(has_answer):
        for flag, prefix in ((True, "has_answer_"), (False, "no_answer_")):
            subset = [s for s, h in zip(scored, has_answer, strict=True) if h == flag]
            out.update(_mean_scores(subset, prefix))
            out[f"{prefix}count"] = len(subset)
    return out


def _mean_scores(scored: Sequence[tuple[float, float]], prefix: str) -> dict[str, float]:
    if not scored:
        return {f"{prefix}exact_match": 0.0, f"{prefix}f1": 0.0}
    return {
        f"{prefix}exact_match": 100.0 * sum(s[0] for s in scored) / len(scored),
        f"{prefix}f1": 100.0 * sum(s[1] for s in scored) / len(scored),
    }


def best_threshold(
    no_answer_margins: Sequence[float], answered_f1: Sequence[float], has_answer: Sequence[bool]
) -> tuple[float, float]:
    """The no-answer threshold that maximises F1 on these questions, and that F1 (0-100).

    A question is answered with its best span when ``margin <= threshold`` (``margin`` =
    null score - best span score) and left unanswered otherwise, as in SQuAD 2.0's
    ``find_best_thresh``: sweep the margins in increasing order, answering one more
    question at each. ``answered_f1`` is each question's F1 when answered; leaving it
    unanswered scores 1 on a no-answer question and 0 on the others.
    """
    if not no_answer_margins:
        return math.inf, 0.0
    current = float(sum(not h for h in has_answer))  # every question unanswered
    best, threshold = current, -math.inf
    order = sorted(range(len(no_answer_margins)), key=lambda i: no_answer_margins[i])
    for i in order:
        current += answered_f1[i] - (0.0 if has_answer[i] else 1.0)
        if current > best:
            best, threshold = current, no_answer_margins[i]
    if threshold == -math.inf:  # abstaining everywhere is best: just below every margin
        threshold = min(no_answer_margins) - 1.0
    return threshold, 100.0 * best / len(no_answer_margins)

"""SQuAD exact match / F1 against the official evaluation script, and threshold tuning."""

from __future__ import annotations

import collections
import re
import string

import pytest

from tunelab.tasks.question_answering.metrics import (
    best_threshold,
    exact_match,
    normalize_answer,
    squad_scores,
    token_f1,
)


# The official SQuAD v2.0 evaluation script's functions, verbatim apart from names
# (https://rajpurkar.github.io/SQuAD-explorer/, evaluate-v2.0.py): the reference.
def _official_normalize(s):
    def remove_articles(text):
        regex = re.compile(r"\b(a|an|the)\b", re.UNICODE)
        return re.sub(regex, " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def _official_f1(a_gold, a_pred):
    gold_toks = _official_normalize(a_gold).split() if a_gold else []
    pred_toks = _official_normalize(a_pred).split() if a_pred else []
    common = collections.Counter(gold_toks) & collections.Counter(pred_toks)
    num_same = sum(common.values())
    if len(gold_toks) == 0 or len(pred_toks) == 0:
        return int(gold_toks == pred_toks)
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(pred_toks)
    recall = 1.0 * num_same / len(gold_toks)
    return (2 * precision * recall) / (precision + recall)


PAIRS = [
    ("Denver Broncos", "the Denver Broncos"),
    ("Denver Broncos", "Broncos"),
    ("Denver Broncos", "Denver Broncos won"),
    ("Saint Bernadette Soubirous", "a Marian place of prayer"),
    ("1,000 years", "1000 years."),
    ("An apple, an Apple!", "apple apple"),
    ("the", ""),
    ("", ""),
    ("Théâtre   de l'Odéon", "theatre de lodéon"),
    ("Santa Clara, California", "Santa Clara"),
]


@pytest.mark.parametrize(("gold", "pred"), PAIRS)
def test_scores_match_the_official_script(gold, pred):
    assert normalize_answer(pred) == _official_normalize(pred)
    assert token_f1(pred, gold) == pytest.approx(_official_f1(gold, pred))
    assert exact_match(pred, gold) == float(_official_normalize(gold) == _official_normalize(pred))


def test_known_values():
    assert normalize_answer("The  Cat's hat!") == "cats hat"
    assert token_f1("Broncos", "Denver Broncos") == pytest.approx(2 / 3)
    assert token_f1("Denver Broncos won", "Denver Broncos") == pytest.approx(0.8)


def test_best_gold_answer_counts_and_scores_are_percentages():
    scores = squad_scores(["Denver Broncos", "Paris"], [["Broncos", "Denver Broncos"], ["Rome"]])
    assert scores == {"exact_match": 50.0, "f1": 50.0}


def test_unanswerable_questions_split_has_and_no_answer():
    scores = squad_scores(["", "x", "Paris"], [[], [], ["Paris"]])
    assert scores["no_answer_count"] == 2 and scores["has_answer_count"] == 1
    assert scores["no_answer_exact_match"] == 50.0
    assert scores["has_answer_f1"] == 100.0
    assert scores["exact_match"] == pytest.approx(200 / 3)


def test_threshold_answers_only_where_it_pays():
    # two answerable (answered right, margins -3 and -1) and two unanswerable (margins 2, 4)
    threshold, f1 = best_threshold([-3.0, -1.0, 2.0, 4.0], [1.0, 1.0, 0.0, 0.0], [1, 1, 0, 0])
    assert -1.0 <= threshold < 2.0
    assert f1 == 100.0


def test_threshold_can_abstain_everywhere():
    threshold, f1 = best_threshold([0.5, 1.0], [0.0, 0.0], [False, False])
    assert threshold < 0.5 and f1 == 100.0

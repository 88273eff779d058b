"""Are validation and test like train? Checks that warn when they are not.

A score on an evaluation split stands for the data the model will meet only if that split
resembles what it was trained for. Three checks compare each of validation and test with
train, on numbers every task supplies through two hooks (the core names no task):

* classes (:meth:`Task.class_labels`): a training class absent from the split leaves its
  recall unmeasured; class shares far from train's (total variation distance at least
  :data:`SHARE_TV` *and* a chi-square goodness-of-fit test against train's shares below
  :data:`SHARE_P`, so a small split's sampling noise alone does not warn) weight the
  macro scores differently from what training saw;
* input sizes (:meth:`Task.input_sizes`: text lengths, image sizes, clip durations,
  series lengths): a two-sample Kolmogorov-Smirnov statistic at least :data:`SIZE_KS`
  with p below :data:`SIZE_P` (scipy's ``ks_2samp``) says the split's inputs are longer,
  larger or sampled differently.

The numbers behind every check go to ``data_summary.json`` ("representativeness"); the
warnings join the data warnings (console, summary, report).
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from scipy import stats

SHARE_TV = 0.15  # total variation distance: the share of examples in other classes
SHARE_P = 0.01
SIZE_KS = 0.3  # Kolmogorov-Smirnov statistic: the largest gap between the two CDFs
SIZE_P = 0.01
EVAL_SPLITS = ("validation", "test")


def class_shares(labels: list[str], classes: list[str]) -> dict[str, float]:
    """Each class's share of ``labels``, in the order of ``classes`` (0 when absent)."""
    counts = Counter(labels)
    total = max(len(labels), 1)
    return {name: counts[name] / total for name in classes}


def share_divergence(train: list[str], other: list[str]) -> dict[str, Any]:
    """Total variation distance and chi-square p-value of ``other``'s classes against
    train's shares, with both sets of shares (classes of train only)."""
    classes = sorted(set(train))
    kept = [label for label in other if label in set(classes)]
    train_shares, other_shares = class_shares(train, classes), class_shares(kept, classes)
    tv = 0.5 * sum(abs(train_shares[c] - other_shares[c]) for c in classes)
    observed = [Counter(kept)[c] for c in classes]
    expected = [train_shares[c] * len(kept) for c in classes]
    p = float(stats.chisquare(observed, expected).pvalue) if kept else 1.0
    return {"tv": round(tv, 4), "p": p, "train": train_shares, "split": other_shares}


def missing_class_warning(name: str, train: list[str], other: list[str]) -> str | None:
    """A warning naming the training classes with no example in split ``name``."""
    missing = sorted(set(train) - set(other))
    if not missing:
        return None
    counts = Counter(train)
    named = ", ".join(f"'{label}' ({counts[label]} in train)" for label in missing)
    what = "class" if len(missing) == 1 else "classes"
    return (
        f"{name} has no example of {what} {named}: its {name} scores say nothing about "
        f"{'it' if len(missing) == 1 else 'them'}; add {name} examples of "
        f"{'it' if len(missing) == 1 else 'them'}"
    )


def share_warning(name: str, result: dict[str, Any]) -> str | None:
    """A warning when the shares differ strongly and not by chance; shares as percents."""
    if result["tv"] < SHARE_TV or result["p"] >= SHARE_P:
        return None
    return (
        f"class shares differ between train and {name} (total variation "
        f"{result['tv']:.2f}, chi-square p={result['p']:.2g}): train {_percents(result['train'])}"
        f"; {name} {_percents(result['split'])}; {name} scores weight classes unlike "
        f"training: check how {name} was sampled, or let tunelab split it off train"
    )


def _percents(shares: dict[str, float]) -> str:
    return ", ".join(f"{label} {100 * share:.0f}%" for label, share in shares.items())


def size_shift(train: list[float], other: list[float]) -> dict[str, float]:
    """Two-sample KS statistic and p-value, and both medians."""
    result = stats.ks_2samp(train, other)
    return {
        "ks": round(float(result.statistic), 4),
        "p": float(result.pvalue),
        "train_median": float(statistics.median(train)),
        "split_median": float(statistics.median(other)),
    }


def size_warning(name: str, measure: str, noun: str, result: dict[str, float]) -> str | None:
    """A warning when the size distributions differ strongly and not by chance."""
    if result["ks"] < SIZE_KS or result["p"] >= SIZE_P:
        return None
    return (
        f"{name} {noun} differ from train in {measure}: median {result['split_median']:g} vs "
        f"{result['train_median']:g} in train (Kolmogorov-Smirnov {result['ks']:.2f}, "
        f"p={result['p']:.2g}); {name} scores may not hold for the inputs training saw"
    )


def representativeness(task: Any, splits: Any) -> tuple[dict[str, Any], list[str]]:
    """The numbers of every check for each evaluation split, and the warnings.

    Args:
        task: the run's :class:`~tunelab.tasks.base.Task` (its hooks give the numbers).
        splits: what its ``prepare_data`` returned.
    """
    report: dict[str, Any] = {}
    warnings: list[str] = []
    train_classes = task.class_labels(splits, "train")
    train_sizes = task.input_sizes(splits, "train")
    for name in EVAL_SPLITS:
        entry: dict[str, Any] = {}
        classes = task.class_labels(splits, name)
        if train_classes and classes:
            entry["missing_classes"] = sorted(set(train_classes) - set(classes))
            entry["class_shares"] = share_divergence(train_classes, classes)
            warnings += filter(None, [missing_class_warning(name, train_classes, classes),
                                      share_warning(name, entry["class_shares"])])  # fmt: skip
        sizes = task.input_sizes(splits, name)
        for measure, values in sizes.items():
            if train_sizes.get(measure) and values:
                shift = size_shift(train_sizes[measure], values)
                entry.setdefault("input_sizes", {})[measure] = shift
                warnings += filter(None, [size_warning(name, measure, task.noun, shift)])
        if entry:
            report[name] = entry
    return report, warnings


def add_representativeness(task: Any, splits: Any) -> list[str]:
    """Run the checks, record them in ``splits.summary`` and add their warnings to
    ``splits.warnings`` (and the summary's, where that is another list). Returns them."""
    report, warnings = representativeness(task, splits)
    if report:
        splits.summary["representativeness"] = report
    splits.warnings.extend(warnings)
    listed = splits.summary.setdefault("warnings", [])
    if listed is not splits.warnings:
        listed.extend(warnings)
    return warnings

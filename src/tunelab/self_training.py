"""Self-training: pseudo-label ``data.unlabeled`` in rounds, keep the round that validates best.

Round 0 trains the configured strategy on the labelled examples alone. Each later round
starts again from the same initial model (the pre-trained backbone with a fresh head,
as scikit-learn's ``SelfTrainingClassifier`` refits its estimator and a noisy student
starts from scratch) and trains on the labelled examples plus every pseudo-label
accepted so far. Between rounds, the model just trained predicts the pool inputs not
yet accepted and each predicted class accepts its own most confident share
(:mod:`tunelab.pseudo_labels`): per-class thresholds, so a rare class is not drowned.

The held-out check is two-fold: when ``data.unlabeled`` has a label column (an image
folder with class sub-folders), the accepted pseudo-labels are compared with it (the
labels are never trained on); always, each round's model is scored on the validation
split by the run's monitored metric, and the round scoring best is the one kept.

A round trains as the run trains (:func:`tunelab.run.train_and_validate`: the same
data, strategy phase, feature cache, decisions and trainer) but writes nothing, scores
no test split and measures no latency. The kept round is retrained once, by the run
itself, from the same initial model and seed, so the run's model is that round's
model. Retraining is chosen over keeping the round's trained state because the run's
own training is what writes ``history.jsonl`` and the checkpoints a resume needs,
feeds tracking and the caller's callbacks, and prints the run's progress; a round has
none of these. Every round is recorded in ``metrics.json`` (``self_training``) and
shown in the report. Nothing here names a task: the task reads the pool
(:meth:`tunelab.tasks.base.Task.read_unlabeled`) and relabels examples
(:meth:`~tunelab.tasks.base.Task.relabel`).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import Field
from rich.console import Console
from rich.markup import escape

from tunelab.config import Config, _Section
from tunelab.errors import ConfigError, DataError
from tunelab.pseudo_labels import Selection, agreement, class_caps, select_pseudo_labels

QUIET = Console(quiet=True)


class SelfTrainingConfig(_Section):
    """How ``data.unlabeled`` is pseudo-labelled (read only when it is set).

    ``rounds`` pseudo-labelling rounds follow round 0 (labelled examples only). In each,
    every predicted class accepts the most confident ``per_class_share`` of the pool
    inputs predicted as it (its own threshold), none below ``min_confidence``;
    ``max_per_round`` caps a round, split over the classes by their labelled shares.
    """

    rounds: int = Field(3, ge=1)
    per_class_share: float = Field(0.2, gt=0.0, le=1.0)
    min_confidence: float = Field(0.5, ge=0.0, lt=1.0)
    max_per_round: int | None = Field(None, ge=1)


@dataclass
class Pool:
    """The unlabelled inputs: a split of the task's kind, and what is known of them.

    Attributes:
        examples: the inputs, as a split (their labels are ``truth``).
        truth: each input's label where the source has one (only ever compared with
            pseudo-labels), else None.
        left_out: inputs dropped because they also occur in a labelled split.
        source: ``data.unlabeled`` as given.
    """

    examples: Any
    truth: list[str | None]
    left_out: int
    source: str

    def __len__(self) -> int:
        return len(self.truth)


def check_self_training(cfg: Config) -> None:
    """A ``self_training`` section without ``data.unlabeled`` would be silently ignored."""
    section = getattr(cfg, "self_training", None)
    if section is not None and section != SelfTrainingConfig() and not _source(cfg):
        raise ConfigError(
            "self_training is set but data.unlabeled is not; set data.unlabeled to a file "
            "of inputs without labels, or drop the self_training section"
        )


def _source(cfg: Config) -> str | None:
    return getattr(cfg.data, "unlabeled", None)


def read_pool(task: Any, cfg: Config, splits: Any) -> Pool:
    """``data.unlabeled`` read by the task, without inputs the labelled splits hold.

    Raises:
        DataError: the source is unreadable or empty (the task's reader), or every one
            of its inputs is already in a labelled split.
    """
    source = _source(cfg)
    pool = task.read_unlabeled(cfg, source)
    labelled = {key for name in ("train", "validation", "test")
                for key in task.overlap_keys(getattr(splits, name))}  # fmt: skip
    keys = task.overlap_keys(pool)
    kept = [i for i, key in enumerate(keys) if key not in labelled]
    if not kept:
        raise DataError(
            f"data.unlabeled ({source}): all {len(keys)} {task.noun} also occur in the "
            "labelled train/validation/test splits; give inputs that are not labelled yet"
        )
    if len(kept) < len(keys):
        pool = task.take(pool, kept)
    return Pool(pool, list(task.examples(pool)[1]), len(keys) - len(kept), source)


def self_train(
    cfg: Config, task: Any, splits: Any, built: Any, console: Console, memory: dict
) -> Any:
    """Run the rounds; return ``splits`` whose training split is the best round's.

    ``built`` must be untouched (no strategy applied): each round trains a copy of it.
    The record of the rounds is in the returned splits' ``summary["self_training"]``.
    """
    from accelerate.utils import set_seed

    settings = cfg.self_training
    pool = read_pool(task, cfg, splits)
    console.print(_pool_line(pool, task.noun, settings.rounds))
    labelled = list(task.examples(splits.train)[1])
    caps = class_caps(settings.max_per_round, labelled, splits.labels)
    accepted: dict[int, str] = {}  # pool row -> pseudo-label, in the order accepted
    records: list[dict] = []
    added: dict = {"accepted": 0}
    for number in range(settings.rounds + 1):
        train = _with_pseudo_labels(task, splits, pool, accepted)
        score, trained = _train_round(cfg, task, train, built, memory)
        records.append(_round_record(number, len(labelled), len(accepted), added, score, cfg))
        console.print(_round_line(records[-1], cfg, task.noun))
        if number == settings.rounds:
            break
        selection = _next_pseudo_labels(cfg, task, splits, trained, pool, accepted, caps)
        if not selection.rows:  # the next round would train on the same examples
            console.print(
                f"self-training: no unlabelled {task.noun} left at self_training."
                f"min_confidence {settings.min_confidence} or above; no more rounds"
            )
            break
        accepted.update(zip(selection.rows, selection.labels, strict=True))
        added = _selection_record(selection, [pool.truth[r] for r in selection.rows])
    best = _best(records, cfg.train.early_stopping.mode)
    kept = dict(list(accepted.items())[: records[best]["pseudo_labels"]])
    console.print(_kept_line(records[best], cfg, task.noun))
    set_seed(cfg.train.seed)  # the run retrains the kept round from the same state
    summary = {**splits.summary, "self_training": _record(pool, settings, records, best, cfg)}
    return dataclasses.replace(_with_pseudo_labels(task, splits, pool, kept), summary=summary)


def _with_pseudo_labels(task: Any, splits: Any, pool: Pool, accepted: dict[int, str]) -> Any:
    """``splits`` whose training split is the labelled one plus the accepted inputs."""
    if not accepted:
        return splits
    rows = list(accepted)
    pseudo = task.relabel(task.take(pool.examples, rows), list(accepted.values()))
    return dataclasses.replace(splits, train=task.concat(splits.train, pseudo))


def _train_round(cfg: Config, task: Any, splits: Any, built: Any, memory: dict):
    """Train a copy of the initial model on ``splits`` as the run trains, writing
    nothing; its validation score and the trained model."""
    from accelerate.utils import set_seed

    from tunelab.run import train_and_validate  # run.py imports this module
    from tunelab.strategies import apply_strategy

    fresh = dataclasses.replace(built, model=copy.deepcopy(built.model))
    set_seed(cfg.train.seed)
    applied = apply_strategy(fresh.model, cfg.strategy)
    trained = train_and_validate(cfg, task, splits, fresh, applied, QUIET, memory)
    return trained.validation[cfg.train.early_stopping.metric], fresh


def _next_pseudo_labels(
    cfg: Config, task: Any, splits: Any, built: Any, pool: Pool, accepted: dict, caps
) -> Selection:
    """What the model just trained accepts among the pool inputs not yet accepted."""
    settings = cfg.self_training
    probabilities = pool_probabilities(cfg, task, splits, built, pool)
    remaining = [i for i in range(len(pool)) if i not in accepted]
    chosen = select_pseudo_labels(
        probabilities[remaining], splits.labels, settings.per_class_share,
        settings.min_confidence, caps,
    )  # fmt: skip
    rows = [remaining[i] for i in chosen.rows]
    return Selection(rows, chosen.labels, chosen.thresholds)


def pool_probabilities(cfg: Config, task: Any, splits: Any, built: Any, pool: Pool) -> np.ndarray:
    """Class probabilities of every pool input, ``[inputs, labels]``.

    The pool goes through the task's own batch source, as the test split would (its
    targets are a placeholder, never read), and the whole model: a strategy phase or a
    fine-tuned backbone changes the features, so none are reused from a cache.
    """
    import torch

    placeholder = task.relabel(pool.examples, [splits.labels[0]] * len(pool))
    scored = dataclasses.replace(splits, test=placeholder)
    source = task.batch_sources(cfg, built, scored, False, QUIET)["test"]
    model = built.model.eval()
    device = next(model.parameters()).device
    out = np.zeros((len(pool), len(splits.labels)), dtype=np.float32)
    with torch.inference_mode():
        for indices in source.eval_batches(cfg.train.eval_batch_size):
            batch = source.collate(indices)
            batch.pop("labels")
            logits = model(**{k: v.to(device) for k, v in batch.items()})
            out[indices] = logits.float().softmax(-1).cpu().numpy()
    return out


def _selection_record(selection: Selection, truth: list[str | None]) -> dict:
    """What a round added: counts per class, thresholds, agreement with known labels."""
    share, checked = agreement(selection.labels, truth)
    return {
        "accepted": len(selection.rows),
        "accepted_per_class": selection.per_class(),
        "thresholds": {k: round(v, 4) for k, v in selection.thresholds.items()},
        "agreement": share,
        "checked": checked,
    }


def _round_record(
    number: int, labelled: int, pseudo: int, added: dict, score: float, cfg: Config
) -> dict:
    return {"round": number, "labelled": labelled, "pseudo_labels": pseudo, **added,
            f"val_{cfg.train.early_stopping.metric}": score}  # fmt: skip


def _best(records: list[dict], mode: str) -> int:
    """The round with the best validation score; the earliest of equals (fewer
    pseudo-labels, same score)."""
    key = next(k for k in records[0] if k.startswith("val_"))
    sign = 1.0 if mode == "max" else -1.0
    return max(range(len(records)), key=lambda i: (sign * records[i][key], -i))


def _record(pool: Pool, settings: SelfTrainingConfig, records: list[dict], best: int,
            cfg: Config) -> dict:  # fmt: skip
    """``metrics.json`` ``self_training``: the pool, the settings, every round, the pick."""
    return {
        "source": pool.source,
        "pool": len(pool),
        "left_out_overlap": pool.left_out,
        "labels_in_source": any(t is not None for t in pool.truth),
        "monitor": cfg.train.early_stopping.metric,
        "settings": settings.model_dump(),
        "rounds": records,
        "best_round": best,
        "pseudo_labels": records[best]["pseudo_labels"],
    }


def _pool_line(pool: Pool, noun: str, rounds: int) -> str:
    left = f" ({pool.left_out} left out: already labelled)" if pool.left_out else ""
    check = "their labels check the pseudo-labels" if any(pool.truth) else "no labels to check"
    return escape(
        f"self-training: {len(pool)} unlabelled {noun} from {pool.source}{left}; "
        f"{check}; up to {rounds} rounds"
    )


def _round_line(record: dict, cfg: Config, noun: str) -> str:
    """``round 1: +110 pseudo-labels (negative 30, positive 80; agreement 0.8455 on 110),
    158 training texts, val f1_macro 0.6402``."""
    metric = cfg.train.early_stopping.metric
    added = ""
    if record["round"]:
        classes = ", ".join(f"{k} {v}" for k, v in record["accepted_per_class"].items())
        checked = (f"; agreement {record['agreement']:.4f} on {record['checked']}"
                   if record["checked"] else "")  # fmt: skip
        added = f"+{record['accepted']} pseudo-labels ({classes}{checked}), "
    total = record["labelled"] + record["pseudo_labels"]
    return escape(
        f"self-training round {record['round']}: {added}{total} training {noun}, "
        f"val {metric} {record[f'val_{metric}']:.4f}"
    )


def _kept_line(record: dict, cfg: Config, noun: str) -> str:
    metric = cfg.train.early_stopping.metric
    return escape(
        f"self-training: kept round {record['round']} (best val {metric} "
        f"{record[f'val_{metric}']:.4f}); the run trains on {record['labelled']} labelled + "
        f"{record['pseudo_labels']} pseudo-labelled {noun}"
    )

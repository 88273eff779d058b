"""``contrastive``: SetFit for few labels: the backbone learns from pairs, then a head.

With 8-64 labelled examples per class, a head on frozen features learns from few
points, and full fine-tuning on so few overfits. SetFit (Tunstall et al., 2022) turns
the examples into pairs (same label: positive, different: negative), fine-tunes the
sentence encoder so that cosine similarity separates them, and fits a logistic
regression on the tuned embeddings. Here the pair phase is
:mod:`tunelab.contrastive_phase`, run by :meth:`Contrastive.before_training`; the head
is then solved on the tuned features with ``feature_extraction``'s solver (L-BFGS, its
penalty and input setfit's, below), and the saved model is an ordinary model of the task.

Defaults are setfit 1.2's: every distinct pair at least once, positives repeated to
balance the negatives (``num_iterations`` None), batch 16, one epoch, lr 2e-5, weight
decay 0.01, 10 % warmup. The task supplies the pooled embedding the pairs train
(:meth:`tunelab.tasks.Task.embedding`).

The head is setfit's too: ``LogisticRegression()`` (C = 1) on L2-normalised
embeddings. The pairs train cosine similarity, so only a feature vector's direction
was trained (``model.head.normalize``, set unless the config sets it), and with 8-16
validation examples per class, choosing the penalty on validation as
``feature_extraction`` does picks noise: on tuned features of data no benchmark uses
(24 runs at 8 per class), C = 1 on normalised features scored +0.87 points of test
macro-F1 (se 0.45) over choosing among 15 penalties on raw ones. ``strategy.head_c: null``
chooses on validation instead.

So a run is setfit's, not a likeness: with dropout off and setfit's pairs in its order,
a whole ``contrastive`` run ends at setfit's weights and predicts setfit's probabilities
(tests/test_contrastive_phase_setfit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field
from rich.markup import escape
from rich.progress import Progress

from tunelab.config import Config
from tunelab.contrastive_phase import PairResult, Pairs, PairTraining, contrastive_pairs
from tunelab.head_solver import HeadPenalties
from tunelab.strategies.base import PhaseInputs, register_strategy
from tunelab.strategies.simple import FeatureExtraction, FeatureExtractionConfig


class ContrastiveConfig(FeatureExtractionConfig):
    """The pair phase's settings; ``head_solver`` / ``head_epochs`` as feature extraction.

    ``num_iterations``: positive and negative pairs per training example, each
    (None: every distinct pair at least once, the rarer kind repeated to balance).
    ``max_steps``: stop the pair phase after this many steps (None: all pairs, every
    epoch); also caps the distinct pairs drawn (at ``max_steps * pair_batch_size``).
    ``body_lr``, ``body_weight_decay`` (matrices only, setfit's ``l2_weight``),
    ``pair_epochs``, ``pair_batch_size`` (pairs per step), ``warmup_ratio``: the phase's
    AdamW schedule (linear warmup, then linear decay).
    ``head_c``: the solved head's inverse L2 penalty as scikit-learn's ``C`` (weight
    decay ``1 / (C n)`` for ``n`` training examples; setfit's ``LogisticRegression()``
    has C = 1); None: chosen on validation, as ``feature_extraction`` chooses it.
    """

    name: Literal["contrastive"] = "contrastive"
    num_iterations: int | None = Field(None, ge=1)
    max_steps: int | None = Field(None, ge=1)
    body_lr: float = Field(2e-5, gt=0.0)
    body_weight_decay: float = Field(0.01, ge=0.0)
    pair_epochs: int = Field(1, ge=1)
    pair_batch_size: int = Field(16, ge=1)
    warmup_ratio: float = Field(0.1, ge=0.0, lt=1.0)
    head_c: float | None = Field(1.0, gt=0.0)


@register_strategy
class Contrastive(FeatureExtraction):
    """Backbone trained on pairs of the training examples first; then the head alone,
    on features the tuned backbone computes, like feature extraction."""

    name = "contrastive"
    config_class = ContrastiveConfig
    model_defaults = {
        "head.normalize": (True, "its pairs train cosine similarity, which reads a "
                           "feature's direction and not its length"),
    }  # fmt: skip

    def check_task(self, task: Any, cfg: Config) -> None:
        """The task must embed its inputs (``Task.embedding`` raises otherwise)."""
        task.embedding(cfg)

    def before_training(self, phase: PhaseInputs) -> dict[str, Any]:
        """Train the backbone groups on pairs of the training examples; freeze them again."""
        from tunelab.contrastive_phase import train_on_pairs
        from tunelab.progress import progress_bar

        settings = self.pair_training(phase.cfg.train.seed)
        pairs = contrastive_pairs(
            phase.train.labels.tolist(),
            settings.seed,
            self.cfg.num_iterations,
            settings.max_steps * settings.batch_size if settings.max_steps else None,
        )
        body = phase.groups[:-1]
        phase.console.print(_start_line(pairs, settings, len(phase.train), len(body)))
        phase.model.to(phase.device)
        for group in body:
            group.set_trainable(True)
        try:
            params = [p for group in body for p in group.params]
            embed = phase.task.embedding(phase.cfg)
            with progress_bar(phase.console) as bar:
                result = train_on_pairs(
                    phase.model, params, embed, phase.train, pairs, settings, phase.device,
                    on_step=_shown_on(bar),
                )  # fmt: skip
        finally:
            for group in body:
                group.set_trainable(False)
        record = phase_record(pairs, settings, result, [g.name for g in body])
        phase.console.print(escape(_end_line(record)))
        return record

    def head_penalties(self, train_examples: int) -> HeadPenalties:
        """One weight decay, ``1 / (C n)`` (scikit-learn's C), unless ``head_c`` is None."""
        c = self.cfg.head_c
        if c is None:
            return super().head_penalties(train_examples)
        return HeadPenalties(
            (1.0 / (c * max(train_examples, 1)),),
            f"= 1 / (C n) with strategy.head_c={c:g} and n={train_examples} training "
            "examples (setfit's LogisticRegression(C=1.0))",
        )

    def pair_training(self, seed: int) -> PairTraining:
        """The pair phase's settings from this strategy's section, seeded by the run."""
        cfg = self.cfg
        return PairTraining(
            lr=cfg.body_lr,
            weight_decay=cfg.body_weight_decay,
            epochs=cfg.pair_epochs,
            batch_size=cfg.pair_batch_size,
            warmup_ratio=cfg.warmup_ratio,
            max_steps=cfg.max_steps,
            seed=seed,
        )

    @classmethod
    def search_space(cls) -> dict[str, dict]:
        return {
            "strategy.body_lr": {"log_uniform": [1e-5, 1e-4]},
            "strategy.num_iterations": {"int": [5, 40]},
        }


def phase_record(
    pairs: Pairs, settings: PairTraining, result: PairResult, groups: list[str]
) -> dict[str, Any]:
    """What ``metrics.json`` keeps of the phase ("strategy_phase")."""
    losses = result.losses
    tenth = max(len(losses) // 10, 1)
    return {
        "name": "contrastive",
        "groups": groups,
        "lr": settings.lr,
        "pairs": len(pairs),
        "positive_pairs": pairs.positive,
        "negative_pairs": len(pairs) - pairs.positive,
        "distinct_positive": pairs.distinct_positive,
        "distinct_negative": pairs.distinct_negative,
        "batch_size": settings.batch_size,
        "epochs": settings.epochs,
        "steps": result.steps,
        "loss_start": round(sum(losses[:tenth]) / tenth, 5),
        "loss_end": round(sum(losses[-tenth:]) / tenth, 5),
        "loss_curve": result.curve(),
        "seconds": round(result.seconds, 3),
    }


def _shown_on(bar: Progress) -> Callable[[int, int, float], None]:
    """The phase's ``on_step``: steps done of all, and the last step's pair loss."""
    shown = bar.add_task("contrastive phase", total=None, info="")

    def advance(done: int, total: int, loss: float) -> None:
        bar.update(shown, completed=done, total=total, info=f"pair loss {loss:.4f}")

    return advance


def _start_line(pairs: Pairs, settings: PairTraining, examples: int, groups: int) -> str:
    """What the table above (the head-only plan of the main training) does not show."""
    steps = settings.total_steps(len(pairs))
    return (
        f"contrastive phase: {examples:,} training examples make {len(pairs):,} pairs "
        f"({pairs.positive:,} positive of {pairs.distinct_positive:,} distinct, "
        f"{len(pairs) - pairs.positive:,} negative of {pairs.distinct_negative:,}); the "
        f"{groups} backbone groups train on them first: {steps:,} steps of "
        f"{settings.batch_size} at lr {settings.lr:.2g}"
    )


def _end_line(record: dict[str, Any]) -> str:
    return (
        f"contrastive phase: {record['steps']:,} steps in {record['seconds']:.1f}s, pair loss "
        f"{record['loss_start']:.4f} -> {record['loss_end']:.4f} (first / last tenth of "
        f"steps); backbone frozen again, the head is fitted on its new features"
    )

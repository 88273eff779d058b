"""``fine_tune(config)``: data → model → strategy → training → evaluation → run directory.

This is the Python API behind ``tunelab run``; the CLI only parses and prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from rich.console import Console
from rich.markup import escape

from tunelab.acceleration import check_device, check_mixed_precision
from tunelab.auto_strategy import run_auto_strategy
from tunelab.auto_train import resolve_auto_train
from tunelab.config import Config, TrainConfig, as_config
from tunelab.continual import (
    add_replay,
    check_continual,
    earlier_splits,
    init_from_run,
    old_test_report,
)
from tunelab.data.representative import add_representativeness
from tunelab.distributed import is_main_process, worker_run_dir
from tunelab.features import cached_features
from tunelab.head_solver import fit_head
from tunelab.io import write_json
from tunelab.learning_curve import train_subset
from tunelab.lr_finder import TrainParts
from tunelab.objective import ScoredPass
from tunelab.optim import check_optimizer
from tunelab.prefix_cache import (
    check_prefix_cache_setting,
    prefix_cache_callbacks,
    prefix_cache_decisions,
)
from tunelab.run_dir import check_run_dir, choose_run_dir, mark_failed, now, start_run_dir
from tunelab.run_metrics import measured_metrics
from tunelab.self_training import check_self_training, self_train
from tunelab.strategies import (
    PhaseInputs,
    Strategy,
    apply_strategy,
    model_default_decisions,
    with_model_defaults,
)
from tunelab.summary import layers_report, print_groups, record_phase
from tunelab.tasks import BuiltModel, Task, get_task
from tunelab.tracking import TrackedRun
from tunelab.trainer import Trainer, TrainState


@dataclass
class RunResult:
    """What a run produced: its directory, final metrics and per-evaluation history.

    ``validation`` is the final validation pass's per-example outputs (in memory only):
    ``strategy.name: auto`` resamples them to tell a real loss to its probe from noise
    (:mod:`tunelab.paired_bootstrap`).
    """

    run_dir: Path
    metrics: dict
    history: list[dict] = field(default_factory=list)
    config: Config | None = None
    validation: ScoredPass | None = None


def fine_tune(
    config: Config | dict | str | Path,
    output_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    console: Console | None = None,
    feature_memory: dict | None = None,
    callbacks: list | None = None,
) -> RunResult:
    """Fine-tune a pre-trained model as ``config`` says and write a run directory.

    Args:
        config: a :class:`Config`, a raw dict, or a YAML path.
        output_dir: the run directory (default ``runs/<strategy>-<timestamp>``).
        resume: continue the run in ``output_dir`` from its last checkpoint.
        overwrite: replace a finished or different run in ``output_dir``.
        console: where progress and tables go (default: quiet).
        feature_memory: an in-process cache of backbone features shared between calls
            (hyper-parameter search passes one so head-only trials skip the backbone).
        callbacks: extra trainer callbacks (e.g. a search's pruning callback).

    Raises:
        TunelabError: bad config, data, model, or output directory (one-line message).
    """
    cfg = as_config(config)
    if cfg.strategy.name == "auto":  # auto_strategy.py: a probe run, then the chosen one
        return run_auto_strategy(
            cfg, output_dir, console, feature_memory,
            resume=resume, overwrite=overwrite, callbacks=callbacks,
        )  # fmt: skip
    cfg = with_model_defaults(cfg)  # model keys the strategy presets (Strategy.model_defaults)
    check_continual(cfg)
    check_self_training(cfg)
    run_dir = choose_run_dir(cfg, output_dir)
    if is_main_process():
        console = console or Console(quiet=True)
        return _fine_tune(cfg, run_dir, resume, overwrite, console, feature_memory, callbacks)
    with worker_run_dir(run_dir, resume) as scratch:  # torchrun: ranks > 0 write nothing
        result = _fine_tune(
            cfg, scratch, resume, True, Console(quiet=True), feature_memory, callbacks
        )
    return replace(result, run_dir=run_dir)


def _fine_tune(
    cfg: Config,
    run_dir: Path,
    resume: bool,
    overwrite: bool,
    console: Console,
    feature_memory: dict | None,
    callbacks: list | None,
) -> RunResult:
    """:func:`fine_tune` in the process that owns ``run_dir``."""
    resume = check_run_dir(run_dir, cfg, resume, overwrite, console)
    check_device(cfg.train.device)  # what can be checked is checked before anything is written
    check_mixed_precision(cfg.train.mixed_precision, cfg.train.device)
    check_optimizer(cfg.train)
    tracking = TrackedRun(cfg, run_dir, console)  # train.report_to; needs its libraries
    _seed(cfg.train.seed)
    task = get_task(cfg.task)
    splits = train_subset(task, task.prepare_data(cfg), cfg)  # data.train_per_class
    add_representativeness(task, splits)  # classes, shares, sizes vs train: warnings
    for warning in splits.warnings:
        console.print(f"[yellow]warning:[/] {escape(warning)}")  # names user files, labels
    built = task.build_model(cfg, splits)
    init_from = getattr(cfg.model, "init_from", None)
    if init_from:
        init_from_run(built.model, splits.labels, init_from)
    # Replay needs the earlier run's splits now; the forgetting report reuses them.
    earlier = earlier_splits(init_from) if getattr(cfg.model, "replay_fraction", 0) else None
    if earlier is not None:
        splits, replay = add_replay(task, splits, cfg, earlier)
        console.print(
            f"replay: {replay['examples']} training examples of "
            f"{escape(str(replay['from']))} added "
            f"({replay['left_out_overlap']} left out: they occur in the new validation/test)"
        )
    if getattr(cfg.data, "unlabeled", None):  # self_training.py: rounds pick the train split
        feature_memory = {} if feature_memory is None else feature_memory
        splits = self_train(cfg, task, splits, built, console, feature_memory)
    strategy, groups, plans = apply_strategy(built.model, cfg.strategy)
    strategy.check_task(task, cfg)
    print_groups(console, groups, plans, cfg)
    check_prefix_cache_setting(cfg, built.model, plans)

    start_run_dir(run_dir, cfg, resume)
    try:
        tracking.start(resume)
        metrics, history, validation = _train_and_save(
            cfg, task, splits, built, strategy, groups, plans, run_dir,
            resume, console, feature_memory, [*(callbacks or []), *tracking.callbacks],
            earlier,
        )  # fmt: skip
    except BaseException as err:
        mark_failed(run_dir, err)
        tracking.fail(err)
        raise
    write_json(run_dir / "status.json", {"state": "finished", "finished_at": now()})
    tracking.finish(metrics, history)
    return RunResult(run_dir, metrics, history, cfg, validation)


@dataclass
class Trained:
    """A model trained as a run trains it, scored on the validation split only.

    Attributes:
        model: the trained model (unwrapped from accelerate).
        validation: the objective's scalar metrics on the validation split.
        validation_pass: that pass's per-example outputs, to rescore resamples of it.
        trainer: the trainer that trained it (its device, precision, objective).
        state: the training's state (history, best epoch, seconds).
        data: the batch sources it trained on (cached features when the strategy caches).
        train_cfg: ``train`` as it ran (``auto`` settings resolved).
        decisions: settings resolved at run time (:func:`_decide`), head solver's included.
        phase: the strategy's own phase before training, if any.
        prefix_cache: the frozen-prefix cache callbacks, for their decisions.
    """

    model: torch.nn.Module
    validation: dict
    validation_pass: ScoredPass
    trainer: Trainer
    state: TrainState
    data: dict
    train_cfg: TrainConfig
    decisions: dict
    phase: dict | None
    prefix_cache: list


def train_and_validate(
    cfg: Config,
    task: Task,
    splits,
    built: BuiltModel,
    applied: tuple[Strategy, list, list],
    console: Console,
    feature_memory: dict | None = None,
    run_dir: Path | None = None,
    resume: bool = False,
    callbacks: list | None = None,
) -> Trained:
    """Train ``built.model`` on ``splits`` as a run does and score it on validation.

    The test split is not scored, no latency is measured and no model is saved: a
    self-training round is exactly this, and a run (:func:`_train_and_save`) is this
    followed by its final metrics and saves. Without ``run_dir`` nothing is written
    (the trainer keeps its best weights in memory); with it, ``data_summary.json`` and
    the trainer's history and checkpoints go there, so a run can resume.

    Args:
        applied: ``(strategy, groups, plans)`` from :func:`apply_strategy` on ``built.model``.
        feature_memory: in-process feature cache shared between calls (feature caching).
        callbacks: extra trainer callbacks (tracking, a search's pruning).
    """
    strategy, groups, plans = applied
    data = task.batch_sources(cfg, built, splits, strategy.uses_feature_cache, console)
    if run_dir is not None:
        write_json(run_dir / "data_summary.json", splits.summary)  # with what batching added
    phase = _strategy_phase(cfg, task, built, strategy, groups, data["train"], console)
    if strategy.uses_feature_cache:  # a phase changed the backbone: its features are new
        reuse = feature_memory if phase is None else None
        data = _cached(cfg, task, built, splits, data, reuse, console, phase is None)
    prefix_cache = prefix_cache_callbacks(cfg, built.model, plans, groups, data, console)
    objective = task.objective(cfg, splits)
    train_cfg, decisions = _decide(cfg, strategy, objective, console)
    if "auto" in (train_cfg.lr, train_cfg.epochs):  # auto_train.py: range test, stopping
        parts = TrainParts(built.model, groups, plans, train_cfg, data["train"], objective)
        train_cfg = resolve_auto_train(train_cfg, parts, decisions, console)
    trainer = Trainer(
        built.model,
        groups,
        plans,
        train_cfg,
        data["train"],
        data["validation"],
        objective,
        run_dir,
        [*strategy.callbacks(groups, plans), *prefix_cache, *(callbacks or [])],
        console,
    )
    head = getattr(strategy, "head_to_solve", None)
    if head is None:
        state = trainer.fit(resume=resume)
    else:  # a linear head on cached features: solved, not trained (head_solver.py)
        penalties = strategy.head_penalties(len(data["train"].labels))
        state, decisions["strategy.head_solver"] = fit_head(
            trainer, head, cfg.strategy.head_solver, console, penalties
        )
    scores = trainer.evaluate(data["validation"])
    validation = {k: v for k, v in scores.metrics.items() if not isinstance(v, list | dict)}
    model = trainer.accelerator.unwrap_model(trainer.model)
    return Trained(model, validation, ScoredPass(objective, scores.outputs), trainer, state,
                   data, train_cfg, decisions, phase, prefix_cache)  # fmt: skip


def _train_and_save(
    cfg: Config,
    task: Task,
    splits,
    built: BuiltModel,
    strategy,
    groups,
    plans,
    run_dir: Path,
    resume: bool,
    console: Console,
    feature_memory: dict | None,
    callbacks: list | None,
    earlier,
) -> tuple[dict, list[dict], ScoredPass]:
    """Train, evaluate and write the run directory's results (status excepted)."""
    trained = train_and_validate(
        cfg, task, splits, built, (strategy, groups, plans), console, feature_memory,
        run_dir, resume, callbacks,
    )  # fmt: skip
    model, state, phase = trained.model, trained.state, trained.phase
    ran = cfg.model_copy(update={"train": trained.train_cfg})  # auto settings resolved
    layers = record_phase(layers_report(groups, plans, ran, strategy.name, state), phase)
    write_json(run_dir / "layers.json", layers)
    metrics = measured_metrics(cfg, trained, task, built, splits)
    extra = task.final_metrics(cfg, model, built, splits, trained.trainer.device)
    metrics["test"].update(extra.pop("test", {}))
    metrics.update(extra)
    if "self_training" in splits.summary:  # the rounds that chose this training split
        metrics["self_training"] = splits.summary["self_training"]
    if phase is not None:  # part of training: compare's wall time and sizes count it
        metrics["strategy_phase"] = phase
        metrics["train_seconds"] += phase["seconds"]
        metrics["trainable_params"] = layers["trainable_params"]
    init_from = getattr(cfg.model, "init_from", None)
    if init_from:
        predictor = task.predictor(model, built, splits, cfg, trained.trainer.device)
        metrics["continual"] = old_test_report(predictor, init_from, cfg.strategy.name, earlier)
    task.save_model(run_dir / "model", model, built, splits, cfg)
    metrics["decisions"] = {**trained.decisions, **prefix_cache_decisions(trained.prefix_cache)}
    write_json(run_dir / "metrics.json", metrics)
    return metrics, state.history, trained.validation_pass


def _decide(
    cfg: Config, strategy: Strategy, objective, console: Console
) -> tuple[TrainConfig, dict[str, dict]]:
    """Settings resolved at run time, by config key: what the objective decided (its
    ``decisions``, e.g. ``auto`` class weights) and the ``train`` keys the strategy
    changed (:meth:`Strategy.adjust_train`), and the ``model`` keys that hold the
    strategy's defaults (:func:`with_model_defaults`). Each is printed as one line; the run
    records them in ``metrics.json`` ("decisions")."""
    decisions = {**getattr(objective, "decisions", {}), **model_default_decisions(strategy, cfg)}
    train_cfg = strategy.adjust_train(cfg.train)
    before, after = _flat(cfg.train.model_dump()), _flat(train_cfg.model_dump())
    for key, value in after.items():
        if value != before.get(key):
            reason = f"strategy {strategy.name}; config says {before.get(key)}"
            decisions[f"train.{key}"] = {"value": value, "reason": reason}
    for key, decision in decisions.items():
        console.print(escape(f"{key}: {decision['value']} ({decision['reason']})"))
    return train_cfg, decisions


def _flat(section: dict, prefix: str = "") -> dict:
    """``{"early_stopping": {"patience": 3}}`` as ``{"early_stopping.patience": 3}``."""
    flat = {}
    for key, value in section.items():
        if isinstance(value, dict):
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _seed(seed: int) -> None:
    from accelerate.utils import set_seed

    set_seed(seed)


def _strategy_phase(
    cfg: Config, task: Task, built: BuiltModel, strategy: Strategy, groups, train, console
) -> dict | None:
    """The strategy's own phase before training (``Strategy.before_training``), if any."""
    inputs = PhaseInputs(task, cfg, built.model, groups, train, _device(cfg), console)
    return strategy.before_training(inputs)


def _device(cfg: Config) -> torch.device:
    """Where work outside the trainer runs (feature caching, a strategy's phase)."""
    return torch.device(
        "cuda" if cfg.train.device in ("auto", "cuda") and torch.cuda.is_available() else "cpu"
    )


def _cached(
    cfg: Config,
    task: Task,
    built: BuiltModel,
    splits,
    data: dict,
    memory,
    console: Console,
    use_disk: bool = True,
) -> dict:
    """Swap batch sources for cached pooled features (feature extraction)."""
    started = time.perf_counter()
    device = _device(cfg)
    built.model.to(device)
    cache_dir = Path(cfg.strategy.cache_dir) if cfg.strategy.cache_dir and use_disk else None
    out = {}
    for name in ("train", "validation", "test"):
        key = task.feature_cache_key(cfg, built, splits, name)
        out[name] = cached_features(
            built.model, data[name], key, cache_dir, cfg.train.eval_batch_size, device, memory
        )
    console.print(
        f"features cached for {sum(len(v) for v in out.values()):,} "
        f"{task.row_noun or task.noun} "
        f"in {time.perf_counter() - started:.1f}s; the head trains on them"
    )
    return out

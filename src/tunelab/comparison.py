"""``compare()``: every strategy (and training from scratch) on one split, side by side.

Each (strategy, seed) is an ordinary run directory under ``<output>/runs/``; a re-run
skips finished runs and resumes interrupted ones, so a crashed comparison continues
where it stopped. The summary answers the user's question: which strategy, and did
fine-tuning beat training from scratch?
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from tunelab import diagnostics
from tunelab.compare_rows import (
    BASE,
    baseline_row,
    metric_spec,
    recorded_objective,
    reference_rows,
    strategy_row,
)
from tunelab.compare_table import print_summary, summary_csv
from tunelab.config import Config, as_config, load_config
from tunelab.errors import ConfigError
from tunelab.io import read_jsonl, write_json, write_text
from tunelab.run import fine_tune
from tunelab.strategies import strategy_names, with_model_defaults
from tunelab.tracking import parent_run, summary_metrics

SCRATCH = "scratch"
REFERENCE_INPUTS = 256


@dataclass
class CompareResult:
    """The comparison directory and its summary (also in ``summary.json``)."""

    output_dir: Path
    summary: dict
    report: Path | None = None
    run_dirs: dict[str, list[Path]] = field(default_factory=dict)


def all_strategies(task: str | None = None) -> list[str]:
    """Every registered strategy ``task`` supports, then ``scratch`` (and ``base`` first
    where the task scores the untouched model)."""
    from tunelab.tasks import get_task

    order = ["feature_extraction", "top_k", "gradual_unfreeze", "discriminative_lr", "lora", "full"]
    chosen = get_task(task) if task else None
    names = [s for s in order if s in strategy_names() and (not chosen or chosen.supports(s))]
    return ([BASE] if chosen and chosen.has_baseline else []) + names + [SCRATCH]


def run_config(base: Config, strategy: str, seed_index: int) -> Config:
    """The config of one (strategy, seed) run: same data split, same training budget.

    ``scratch`` is full fine-tuning of the same architecture from random weights. The
    strategy's model defaults are filled in, as the run will resolve them, so a finished
    run's ``config.yaml`` equals it and a rerun of compare skips that run.
    """
    cfg = base.with_strategy("full" if strategy == SCRATCH else strategy)
    cfg.model.pretrained = strategy != SCRATCH
    cfg.train.seed = base.train.seed + seed_index
    return with_model_defaults(cfg)


def compare(
    config: Config | dict | str | Path,
    strategies: list[str] | None = None,
    seeds: int = 1,
    output_dir: str | Path = "runs/compare",
    console: Console | None = None,
    report: bool = True,
) -> CompareResult:
    """Run each strategy for ``seeds`` seeds and summarise them against ``scratch``.

    Raises:
        ConfigError: an unknown strategy name or ``seeds < 1``.
    """
    base = as_config(config)
    strategies = _check_strategies(strategies or all_strategies(base.task), seeds, base.task)
    console = console or Console(quiet=True)
    out = Path(output_dir)
    memory: dict = {}
    run_dirs: dict[str, list[Path]] = {}
    with parent_run(base, out, "compare") as tracked:  # train.report_to: one parent run
        for strategy in (s for s in strategies if s != BASE):
            for k in range(seeds):
                run_dir = out / "runs" / f"{strategy}-seed{k}"
                run_dirs.setdefault(strategy, []).append(
                    _run_one(base, strategy, k, run_dir, memory, console)
                )
        summary = summarise(base, run_dirs, out, with_base=BASE in strategies)
        write_json(out / "summary.json", summary)
        write_text(out / "summary.csv", summary_csv(summary["strategies"]))
        print_summary(console, summary)
        report_path = _write_report(out, console) if report else None
        files = [out / "summary.json", out / "summary.csv", report_path]
        tracked.finish(summary_metrics(summary["strategies"], "strategy"), files)
    return CompareResult(out, summary, report_path, run_dirs)


def _check_strategies(strategies: list[str], seeds: int, task: str) -> list[str]:
    from tunelab.tasks import get_task

    # any strategy the task supports may be named, also one the default set leaves out
    # for needing settings of its own (layers: strategy.train)
    own = [s for s in strategy_names() if get_task(task).supports(s)]
    known = [*all_strategies(task), *(s for s in own if s not in all_strategies(task))]
    unknown = [s for s in strategies if s not in known]
    if unknown:
        raise ConfigError(
            f"--strategies: '{unknown[0]}' is not available for task '{task}'; choose from "
            f"{', '.join(known)}"
        )
    if seeds < 1:
        raise ConfigError("--seeds must be at least 1")
    if not set(strategies) - {BASE}:
        raise ConfigError("--strategies: base is measured inside the runs; add a strategy")
    return list(dict.fromkeys(strategies))


def _run_one(
    base: Config, strategy: str, k: int, run_dir: Path, memory: dict, console: Console
) -> Path:
    """Run, resume or skip one (strategy, seed)."""
    cfg = run_config(base, strategy, k)
    same_config = (run_dir / "config.yaml").is_file() and load_config(
        run_dir / "config.yaml"
    ) == cfg
    status = run_dir / "status.json"
    finished = status.is_file() and json.loads(status.read_text()).get("state") == "finished"
    if finished and same_config:
        console.print(f"[dim]{strategy} seed {k}: finished earlier, skipped[/]")
        return run_dir
    resume = same_config and not finished and (run_dir / "checkpoints" / "last").is_dir()
    console.rule(f"{strategy} · seed {k}")
    fine_tune(
        cfg, run_dir, resume=resume, overwrite=not resume, console=console, feature_memory=memory
    )
    return run_dir


def summarise(
    base: Config, run_dirs: dict[str, list[Path]], out: Path, with_base: bool = False
) -> dict:
    """Mean ± std per strategy, transfer gain, diagnostic flags and a recommendation.

    ``with_base``: a ``base`` row from the untouched model's scores the runs recorded.
    """
    objective = recorded_objective(run_dirs)
    monitor = metric_spec(objective, objective["monitor"])
    target = diagnostics.Target(monitor["name"], monitor["mode"], monitor.get("scale", 1.0))
    rows = [strategy_row(name, dirs, out, objective) for name, dirs in run_dirs.items()]
    baseline = baseline_row(run_dirs, objective) if with_base else None
    by_name = {r["strategy"]: r for r in rows}
    flags: list[diagnostics.Flag] = []
    for name, dirs in run_dirs.items():
        history = read_jsonl(dirs[0] / "history.jsonl")
        flag = diagnostics.overfitting_flag(name, history, objective.get("train_metric"))
        flags += [flag] if flag else []
    scratch = by_name.get(SCRATCH)
    gain = None
    if scratch:
        for row in rows:
            if row["strategy"] != SCRATCH:
                flag = diagnostics.negative_transfer_flag(row, scratch, target)
                flags += [flag] if flag else []
        gain = _transfer_gain(rows, scratch, target)
    flags += _drift_and_forgetting(base, run_dirs, by_name)
    flags += _run_flags(run_dirs)
    references = reference_rows(run_dirs, objective)  # e.g. classical baselines
    first = next(iter(run_dirs.values()))[0]
    data = (
        json.loads((first / "data_summary.json").read_text())
        if (first / "data_summary.json").is_file()
        else {}
    )
    return {
        "transfer_gain": gain,
        "flags": [f.to_dict() for f in flags],
        "recommendation": diagnostics.recommend(rows, target, {f.strategy: f.kind for f in flags}),
        "strategies": [*([baseline] if baseline else []), *rows, *references],
        "data": data,
        "model": base.model.name,
        "task": base.task,
        "objective": objective,
    }


def _transfer_gain(rows: list[dict], scratch: dict, target: diagnostics.Target) -> dict | None:
    """The best pretrained strategy's test score against scratch's (positive: better)."""
    pretrained = [r for r in rows if r["strategy"] != SCRATCH]
    if not pretrained:
        return None
    key = f"{target.metric}_mean"
    best = max(pretrained, key=lambda r: target.sign * r[key])
    return {
        "metric": target.metric,
        "best_strategy": best["strategy"],
        f"best_{target.metric}": best[key],
        f"scratch_{target.metric}": scratch[key],
        "gain": target.sign * (best[key] - scratch[key]),
    }


def _drift_and_forgetting(base: Config, run_dirs: dict[str, list[Path]], by_name: dict) -> list:
    """For each backbone-training strategy: representation drift on reference inputs
    (information) and the pretrained model's own task before vs after (a flag when it
    dropped), where the task measures them."""
    from tunelab.tasks import get_task

    task = get_task(base.task)
    flags = []
    for name, dirs in run_dirs.items():
        if name in (SCRATCH, "feature_extraction"):
            continue
        embeddings = task.drift_embeddings(base, dirs[0], REFERENCE_INPUTS)
        if embeddings is not None:
            by_name[name].update(diagnostics.drift_numbers(*embeddings))
        score = task.old_task_score(base, dirs[0], REFERENCE_INPUTS)
        if score is not None:
            by_name[name]["old_task_change"] = score["after"] - score["before"]
            flag = diagnostics.old_task_flag(name, score)
            flags += [flag] if flag else []
    return flags


def _run_flags(run_dirs: dict[str, list[Path]]) -> list[diagnostics.Flag]:
    """Flags a run raised about itself (e.g. a language model's forgetting)."""
    flags = []
    for dirs in run_dirs.values():
        metrics = json.loads((dirs[0] / "metrics.json").read_text())
        flags += [diagnostics.Flag(**flag) for flag in metrics.get("flags", [])]
    return flags


def _write_report(out: Path, console: Console) -> Path | None:
    from tunelab.report import write_report

    path = write_report(out)
    console.print(f"report: [bold]{path}[/]")
    return path

"""``compare()``: every strategy (and training from scratch) on one split, side by side.

Each (strategy, seed) is an ordinary run directory under ``<output>/runs/``; a re-run
skips finished runs and resumes interrupted ones, so a crashed comparison continues
where it stopped. The summary answers the user's question: which strategy, and did
fine-tuning beat training from scratch?
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from tunelab import diagnostics
from tunelab.config import Config, load_config
from tunelab.errors import ConfigError
from tunelab.io import read_jsonl, write_json, write_text
from tunelab.run import fine_tune
from tunelab.strategies import strategy_names
from tunelab.tracking import parent_run, summary_metrics

SCRATCH = "scratch"
BASE = "base"  # the untouched pretrained model, for tasks that can score it (a causal LM)
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

    ``scratch`` is full fine-tuning of the same architecture from random weights.
    """
    cfg = base.with_strategy("full" if strategy == SCRATCH else strategy)
    cfg.model.pretrained = strategy != SCRATCH
    cfg.train.seed = base.train.seed + seed_index
    return cfg


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
    base = (
        config
        if isinstance(config, Config)
        else (load_config(base=config) if isinstance(config, dict) else load_config(config))
    )
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
    objective = _objective(run_dirs)
    monitor = _spec(objective, objective["monitor"])
    target = diagnostics.Target(monitor["name"], monitor["mode"], monitor.get("scale", 1.0))
    rows = [_strategy_row(name, dirs, out, objective) for name, dirs in run_dirs.items()]
    baseline = _baseline_row(run_dirs, objective) if with_base else None
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
    references = _reference_rows(run_dirs, objective)  # e.g. classical baselines
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


def _objective(run_dirs: dict[str, list[Path]]) -> dict:
    """The metrics description the runs recorded (all runs of a comparison share it)."""
    first = next(iter(run_dirs.values()))[0]
    return json.loads((first / "metrics.json").read_text())["objective"]


def _baseline_row(run_dirs: dict[str, list[Path]], objective: dict) -> dict | None:
    """The untouched pretrained model's scores, as every run measured them (the same)."""
    first = next(iter(run_dirs.values()))[0]
    metrics = json.loads((first / "metrics.json").read_text())
    baseline = metrics.get("baseline")
    if not baseline:
        return None
    row: dict = {"strategy": BASE, "n_seeds": 1}
    for spec in _all_metrics(objective):
        row[f"{spec['name']}_mean"] = baseline["test"].get(spec["name"], float("nan"))
        row[f"{spec['name']}_std"] = 0.0
    monitor = objective["monitor"]
    row[f"val_{monitor}_mean"] = baseline["validation"].get(monitor, float("nan"))
    row[f"val_{monitor}_std"] = 0.0
    row.update(
        train_seconds_mean=0.0,
        seconds_per_epoch_mean=0.0,
        trainable_params=0,
        total_params=metrics["total_params"],
        latency_ms_p50=baseline["test"].get("latency_ms_p50", float("nan")),
        peak_memory_mb=float("nan"),
        run_dirs=[],
    )
    return row


def _reference_rows(run_dirs: dict[str, list[Path]], objective: dict) -> list[dict]:
    """One row per reference model a task fitted in its runs besides the network (e.g.
    a classical baseline): ``metrics.json`` ``baselines``, name -> ``{"test",
    "validation", "fit_seconds"}``, the same in every run; left out of the
    recommendation and transfer gain, which compare strategies."""
    first = next(iter(run_dirs.values()))[0]
    recorded = json.loads((first / "metrics.json").read_text()).get("baselines") or {}
    rows = []
    for name, result in recorded.items():
        if "test" not in result:
            continue  # {"skipped": reason}: the library was missing or the fit failed
        row: dict = {"strategy": name, "n_seeds": 1}
        for spec in _all_metrics(objective):
            row[f"{spec['name']}_mean"] = result["test"].get(spec["name"], float("nan"))
            row[f"{spec['name']}_std"] = 0.0
        monitor = objective["monitor"]
        row[f"val_{monitor}_mean"] = result.get("validation", {}).get(monitor, float("nan"))
        row[f"val_{monitor}_std"] = 0.0
        row.update(
            train_seconds_mean=result.get("fit_seconds", float("nan")),
            seconds_per_epoch_mean=float("nan"),
            trainable_params=0,
            total_params=0,
            latency_ms_p50=float("nan"),
            peak_memory_mb=float("nan"),
            run_dirs=[],
        )
        rows.append(row)
    return rows


def _spec(objective: dict, name: str) -> dict:
    """Metric ``name``'s spec as the run directory recorded it (``Objective.describe``)."""
    return next(m for m in objective["metrics"] if m["name"] == name)


def _strategy_row(name: str, dirs: list[Path], out: Path, objective: dict) -> dict:
    """Mean and std over seeds of every test metric (``<metric>_mean``/``_std``), the
    monitored validation metric (``val_<monitor>_mean``), cost and size."""
    metrics = [json.loads((d / "metrics.json").read_text()) for d in dirs]

    def stat(key: str, section: str | None = "test") -> tuple[float, float]:
        values = np.array([(m[section] if section else m)[key] for m in metrics], dtype=float)
        return float(values.mean()), float(values.std())

    scores: dict[str, float] = {}
    for spec in _all_metrics(objective):
        scores[f"{spec['name']}_mean"], scores[f"{spec['name']}_std"] = stat(spec["name"])
    monitor = objective["monitor"]
    scores[f"val_{monitor}_mean"], scores[f"val_{monitor}_std"] = stat(monitor, "validation")
    return {
        "strategy": name,
        "n_seeds": len(dirs),
        **scores,
        "train_seconds_mean": stat("train_seconds", None)[0],
        "seconds_per_epoch_mean": stat("seconds_per_epoch", None)[0],
        "trainable_params": metrics[0]["trainable_params"],
        "total_params": metrics[0]["total_params"],
        "latency_ms_p50": stat("latency_ms_p50")[0],
        "peak_memory_mb": stat("peak_memory_mb", None)[0],
        **_forgetting(metrics),
        "run_dirs": [str(d.relative_to(out)) for d in dirs],
    }


def _forgetting(metrics: list[dict]) -> dict[str, float]:
    """Mean rise of reference-text perplexity where the runs measured it (else nothing)."""
    rises = [m["forgetting"]["rise"] for m in metrics if m.get("forgetting")]
    return {"reference_ppl_rise": float(np.mean(rises))} if rises else {}


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


def summary_csv(rows: list[dict]) -> str:
    """``summary.csv``: one row per strategy, scalar columns only."""
    columns = [k for k in rows[0] if k != "run_dirs"] if rows else []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _mean_std(row: dict, metric: str) -> str:
    """``mean ± std`` over seeds; the mean alone for one seed, where std says nothing."""
    mean = f"{row[f'{metric}_mean']:.3f}"
    return mean if row["n_seeds"] < 2 else f"{mean} ± {row[f'{metric}_std']:.3f}"


FIXED_COLUMNS = ("train s", "s/epoch", "trainable", "p50 ms", "peak MB")
# Shown when some row has them: representation drift (CKA, information), the change of
# the pretrained model's own-task score, a language model's rise in perplexity on general
# reference text (the last two measure forgetting).
OPTIONAL_COLUMNS = (
    ("cka", "CKA"),
    ("old_task_change", "old task Δ"),
    ("reference_ppl_rise", "ref ppl +%"),
)


def _forms(extras: list[tuple[str, str]]) -> list[str]:
    return [".2f" if key == "cka" else "+.1%" for key, _ in extras]


def _cell(value, form: str) -> str:
    """A number, or ``-`` where a row has none (the base row trains nothing)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "-"
    return format(value, form)


def print_summary(console: Console, summary: dict) -> None:
    """The comparison table, transfer gain, flags and recommendation."""
    table = Table(title="strategies compared (test set; mean ± std over seeds)")
    shown = _table_metrics(summary["objective"])
    rows = summary["strategies"]
    extras = [(key, label) for key, label in OPTIONAL_COLUMNS if any(key in r for r in rows)]
    columns = ["strategy", *(s["label"] for s in shown), *FIXED_COLUMNS, *(e[1] for e in extras)]
    for column in columns:
        table.add_column(column, justify="left" if column == "strategy" else "right")
    recommended = (summary.get("recommendation") or {}).get("strategy")
    for r in rows:
        name = (
            f"[bold green]{r['strategy']} *[/]" if r["strategy"] == recommended else r["strategy"]
        )
        table.add_row(
            name,
            *(_mean_std(r, spec["name"]) for spec in shown),
            _cell(r["train_seconds_mean"], ".1f"),
            _cell(r["seconds_per_epoch_mean"], ".1f"),
            f"{r['trainable_params']:,}",
            _cell(r["latency_ms_p50"], ".1f"),
            _cell(r["peak_memory_mb"], ".0f"),
            *(
                _cell(r.get(key), form)
                for (key, _), form in zip(extras, _forms(extras), strict=True)
            ),
        )
    console.print(table)
    gain = summary.get("transfer_gain")
    if gain:
        metric = gain["metric"]
        label = next(s["label"] for s in _all_metrics(summary["objective"]) if s["name"] == metric)
        console.print(
            f"transfer gain: {gain['best_strategy']} {label} {gain[f'best_{metric}']:.3f} vs "
            f"scratch {gain[f'scratch_{metric}']:.3f} = {gain['gain']:+.3f}"
        )
    for flag in summary["flags"]:
        console.print(f"[yellow]flag[/] {flag['kind']} · {flag['strategy']}: {flag['message']}")
    if recommended:
        console.print(
            f"recommendation: [bold]{recommended}[/] — {summary['recommendation']['reason']}"
        )


def _all_metrics(objective: dict) -> list[dict]:
    """Every metric a run's test section holds: per-evaluation ones, then final ones."""
    return [*objective["metrics"], *objective.get("final_metrics", [])]


def _table_metrics(objective: dict) -> list[dict]:
    """The metrics the table shows: the objective's headline."""
    specs = {spec["name"]: spec for spec in _all_metrics(objective)}
    names = objective.get("headline") or [n for n in specs if n != "loss"][:2]
    return [specs[name] for name in names]


def _write_report(out: Path, console: Console) -> Path | None:
    from tunelab.report import write_report

    path = write_report(out)
    console.print(f"report: [bold]{path}[/]")
    return path

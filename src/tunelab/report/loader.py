"""Read a run directory or a compare directory into the records of :mod:`.records`.

The report must work on any directory a run left behind, including one from a crashed or
older run, so only the file that identifies the directory is required (``metrics.json``
for a run, ``summary.json`` for a compare). Every other file is optional: when it is
missing the matching field is ``None`` and the report skips that section.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tunelab.config import DEFAULT_TASK
from tunelab.errors import RunDirError
from tunelab.report.records import (
    CLASSIFICATION_OBJECTIVE,
    CompareData,
    DataSummary,
    EvalRecord,
    Flag,
    LayerGroup,
    LayerPlan,
    MetricInfo,
    Recommendation,
    RecordedObjective,
    RunData,
    RunMetrics,
    SplitSummary,
    StrategySummary,
    TransferGain,
    config_value,
)


def load_source(path: str | Path) -> RunData | CompareData:
    """Load ``path`` as a compare dir (``summary.json``) or a run dir (``metrics.json``).

    Raises:
        RunDirError: the directory holds neither file, or one of them is not valid JSON.
    """
    root = Path(path)
    if not root.is_dir():
        raise RunDirError(f"{root}: not a directory; pass a run or compare directory")
    if (root / "summary.json").is_file():
        return load_compare(root)
    if (root / "metrics.json").is_file():
        return load_run(root)
    raise RunDirError(
        f"{root}: neither metrics.json (run dir) nor summary.json (compare dir) found; "
        "pass the output directory of `tunelab run` or `tunelab compare`"
    )


def load_run(path: str | Path) -> RunData:
    """Load one run directory; only ``metrics.json`` is required."""
    root = Path(path)
    metrics_raw = _read_json(root / "metrics.json", required=True)
    layers_raw = _read_json(root / "layers.json")
    data_raw = _read_json(root / "data_summary.json")
    config = _read_yaml(root / "config.yaml")
    task = metrics_raw.get("task") or config_value(config, "task", DEFAULT_TASK)
    return RunData(
        path=root,
        metrics=_parse_metrics(metrics_raw, str(task)),
        config=config,
        history=_read_history(root / "history.jsonl"),
        layers=_parse_layers(layers_raw) if layers_raw else None,
        data=_parse_data(data_raw) if data_raw else None,
    )


def load_compare(path: str | Path) -> CompareData:
    """Load a compare directory and every run directory its summary points to."""
    root = Path(path)
    raw = _read_json(root / "summary.json", required=True)
    strategies = [_parse_strategy(row) for row in raw.get("strategies", [])]
    runs = {s.strategy: _load_runs(root, s.run_dirs) for s in strategies}
    objective = _compare_objective(raw.get("objective"), runs)
    data_raw = raw.get("data")
    if not data_raw:
        first = next((r[0] for r in runs.values() if r), None)
        data = first.data if first else None
    else:
        data = _parse_data(data_raw)
    gain_raw = raw.get("transfer_gain")
    rec_raw = raw.get("recommendation")
    return CompareData(
        path=root,
        objective=objective,
        strategies=strategies,
        transfer_gain=_parse_gain(gain_raw, objective) if gain_raw else None,
        flags=[_parse_flag(f) for f in raw.get("flags", [])],
        recommendation=Recommendation(rec_raw["strategy"], rec_raw.get("reason", ""))
        if rec_raw
        else None,
        data=data,
        runs=runs,
    )


def _compare_objective(
    raw: dict[str, Any] | None, runs: dict[str, list[RunData]]
) -> RecordedObjective:
    """The summary's objective; an older summary has none: its runs' (or classification's)."""
    if raw:
        return parse_objective(raw)
    first = next((r[0] for r in runs.values() if r), None)
    return first.metrics.objective if first else CLASSIFICATION_OBJECTIVE


def _load_runs(root: Path, run_dirs: list[str]) -> list[RunData]:
    """Load the run dirs that exist; a missing one (e.g. still running) is skipped."""
    return [load_run(root / d) for d in run_dirs if (root / d / "metrics.json").is_file()]


def _read_json(path: Path, required: bool = False) -> dict[str, Any] | None:
    if not path.is_file():
        if required:
            raise RunDirError(f"{path} not found; is {path.parent} a finished run?")
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise RunDirError(
            f"{path}: not valid JSON (line {err.lineno}); rerun to rewrite it"
        ) from None


def _read_yaml(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        raise RunDirError(f"{path}: not valid YAML; rerun to rewrite it") from None
    return data if isinstance(data, dict) else None


def _read_history(path: Path) -> list[EvalRecord] | None:
    """Parse ``history.jsonl``; a truncated last line (crash mid-write) is ignored."""
    if not path.is_file():
        return None
    records = []
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        records.append(_parse_record(row))
    return records or None


def _parse_record(row: dict[str, Any]) -> EvalRecord:
    """Split ``train_<name>`` / ``val_<name>`` scalars into dicts keyed by metric name."""
    return EvalRecord(
        epoch=float(row.get("epoch", 0)),
        step=row.get("step"),
        lr=row.get("lr"),
        phase=int(row.get("phase") or 0),
        trainable_params=row.get("trainable_params"),
        train=_prefixed(row, "train_"),
        val=_prefixed(row, "val_"),
    )


def _prefixed(row: dict[str, Any], prefix: str) -> dict[str, float]:
    return {
        key[len(prefix) :]: value
        for key, value in row.items()
        if key.startswith(prefix) and _is_number(value)
    }


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parse_objective(raw: dict[str, Any] | None) -> RecordedObjective:
    """``metrics.json``'s ``objective``; classification's for runs that predate it."""
    if not raw or not raw.get("metrics"):
        return CLASSIFICATION_OBJECTIVE
    metrics = tuple(
        MetricInfo(
            name=str(m["name"]),
            label=str(m.get("label") or m["name"]),
            mode="min" if m.get("mode") == "min" else "max",
            short=str(m.get("short") or ""),
        )
        for m in raw["metrics"]
    )
    monitor = str(raw.get("monitor") or metrics[0].name)
    return RecordedObjective(monitor, raw.get("train_metric"), metrics)


def _parse_metrics(raw: dict[str, Any], task: str) -> RunMetrics:
    test = dict(raw.get("test") or {})
    latency = {key: test.pop(key, None) for key in ("latency_ms_p50", "latency_ms_p95")}
    return RunMetrics(
        task=task,
        objective=parse_objective(raw.get("objective")),
        test={k: v for k, v in test.items() if _is_number(v)},
        validation={k: v for k, v in (raw.get("validation") or {}).items() if _is_number(v)},
        test_details={k: v for k, v in test.items() if not _is_number(v)},
        latency_ms_p50=latency["latency_ms_p50"],
        latency_ms_p95=latency["latency_ms_p95"],
        model=raw.get("model"),
        strategy=raw.get("strategy"),
        pretrained=raw.get("pretrained"),
        trainable_params=raw.get("trainable_params"),
        total_params=raw.get("total_params"),
        train_seconds=raw.get("train_seconds"),
        seconds_per_epoch=raw.get("seconds_per_epoch"),
        epochs_run=raw.get("epochs_run"),
        steps=raw.get("steps"),
        best_epoch=raw.get("best_epoch"),
        peak_memory_mb=raw.get("peak_memory_mb"),
    )


def _parse_layers(raw: dict[str, Any]) -> LayerPlan:
    groups = [
        LayerGroup(
            name=str(g.get("name", "?")),
            params=int(g.get("params", 0)),
            state=str(g.get("state", "frozen")),
            lr_scale=g.get("lr_scale"),
            lr=g.get("lr"),
            unfreeze_epoch=g.get("unfreeze_epoch"),
            unfrozen_at=g.get("unfrozen_at"),
            unfreezing_recorded="unfrozen_at" in g,
            trained_in=g.get("trained_in"),
        )
        for g in raw.get("groups", [])
    ]
    return LayerPlan(
        strategy=str(raw.get("strategy", "unknown")),
        groups=groups,
        trainable_params=raw.get("trainable_params"),
        total_params=raw.get("total_params"),
    )


def _parse_data(raw: dict[str, Any]) -> DataSummary:
    splits = [_parse_split(name, s) for name, s in (raw.get("splits") or {}).items()]
    return DataSummary(
        labels=list(raw.get("labels") or []),
        splits=splits,
        duplicates_across_splits=dict(raw.get("duplicates_across_splits") or {}),
        cleaning=dict(raw.get("cleaning") or {}),
        warnings=list(raw.get("warnings") or []),
    )


def _parse_split(name: str, raw: dict[str, Any]) -> SplitSummary:
    lengths = raw.get("length_chars") or {}
    return SplitSummary(
        name=name,
        n=int(raw.get("n", 0)),
        class_counts={str(k): int(v) for k, v in (raw.get("class_counts") or {}).items()},
        length_min=lengths.get("min"),
        length_p50=lengths.get("p50"),
        length_max=lengths.get("max"),
        length_hist=[(float(a), float(b), int(c)) for a, b, c in lengths.get("hist") or []],
    )


def _parse_strategy(row: dict[str, Any]) -> StrategySummary:
    def stats(suffix: str) -> dict[str, float]:
        return {
            key[: -len(suffix)]: value
            for key, value in row.items()
            if key.endswith(suffix) and _is_number(value)
        }

    return StrategySummary(
        strategy=str(row.get("strategy", "unknown")),
        n_seeds=int(row.get("n_seeds", 1)),
        mean=stats("_mean"),
        std=stats("_std"),
        train_seconds_mean=row.get("train_seconds_mean"),
        trainable_params=row.get("trainable_params"),
        total_params=row.get("total_params"),
        latency_ms_p50=row.get("latency_ms_p50"),
        peak_memory_mb=row.get("peak_memory_mb"),
        run_dirs=list(row.get("run_dirs") or []),
    )


def _parse_gain(raw: dict[str, Any], objective: RecordedObjective) -> TransferGain:
    """``best_<metric>`` / ``scratch_<metric>``; older summaries name no metric (the
    monitor, macro-F1 for them)."""
    metric = str(raw.get("metric") or objective.monitor)
    return TransferGain(
        metric=metric,
        best_strategy=str(raw.get("best_strategy", "?")),
        best=raw.get(f"best_{metric}"),
        scratch=raw.get(f"scratch_{metric}"),
        gain=raw.get("gain"),
    )


def _parse_flag(raw: dict[str, Any]) -> Flag:
    return Flag(
        kind=str(raw.get("kind", "warning")),
        strategy=str(raw.get("strategy", "?")),
        message=str(raw.get("message", "")),
        numbers=dict(raw.get("numbers") or {}),
    )

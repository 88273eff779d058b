"""The process flowchart of one run: data → model → strategy → tuning → training → eval → export.

Each box is filled in from the run's own files (``config.yaml``, ``metrics.json``,
``data_summary.json``, ``layers.json``) so a reader sees in one glance which choices
produced the numbers. It is drawn as inline SVG generated here: text stays sharp at any
zoom, is selectable, and needs no image encoding.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from tunelab.report import formatting as fmt
from tunelab.report.records import RunData, config_value

STEP_COLORS = {
    "data": "#0c8599",
    "model": "#4263eb",
    "strategy": "#2563eb",
    "tuning": "#7048e8",
    "training": "#e8590c",
    "evaluation": "#0f9d58",
    "export": "#495057",
}
OPTIMIZER_NAMES = {"adamw": "AdamW", "sgd": "SGD"}


@dataclass(frozen=True)
class FlowStep:
    """One box of the flowchart: a stage name and the choices made at that stage."""

    title: str
    lines: list[str]


def build_steps(run: RunData) -> list[FlowStep]:
    """The seven stages of ``run``, each described by the choices recorded in its files."""
    return [
        FlowStep("data", _data_lines(run)),
        FlowStep("model", _model_lines(run)),
        FlowStep("strategy", _strategy_lines(run)),
        FlowStep("tuning", _tuning_lines(run.config)),
        FlowStep("training", _training_lines(run)),
        FlowStep("evaluation", _evaluation_lines(run)),
        FlowStep("export", _export_lines(run)),
    ]


def _data_lines(run: RunData) -> list[str]:
    source = config_value(run.config, "data.train", "data source not recorded")
    lines = [str(source)]
    if run.data:
        sizes = {s.name: s.n for s in run.data.splits}
        short = {"train": "train", "validation": "val", "test": "test"}
        lines.append(" / ".join(f"{n:,} {short.get(k, k)}" for k, n in sizes.items()))
        if run.data.labels:
            lines.append(f"{len(run.data.labels)} classes")
        dropped = run.data.cleaning.get("dropped_duplicates")
        if dropped:
            lines.append(f"{dropped:,} duplicates dropped")
    elif run.metrics.test_details.get("labels"):
        lines.append(f"{len(run.metrics.test_details['labels'])} classes")
    return lines


def _model_lines(run: RunData) -> list[str]:
    cfg = run.config
    name = run.metrics.model or config_value(cfg, "model.name", "unknown model")
    pretrained = run.metrics.pretrained
    if pretrained is None:
        pretrained = config_value(cfg, "model.pretrained", True)
    lines = [str(name), "pre-trained weights" if pretrained else "random init (from scratch)"]
    pooling = config_value(cfg, "model.pooling")
    max_length = config_value(cfg, "model.max_length")
    if pooling:
        lines.append(f"{pooling} pooling, max {max_length or '?'} tokens")
    elif max_length:
        lines.append(f"max {max_length} tokens")
    head = config_value(cfg, "model.head")
    if head is not None:
        lines.append(_head_text(head))
    dropped = config_value(cfg, "model.drop_top_layers", 0)
    if dropped:
        lines.append(f"top {dropped} layers dropped")
    return lines


def _head_text(head: dict[str, Any]) -> str:
    hidden = head.get("hidden_sizes") or []
    if not hidden:
        return f"head: linear, dropout {head.get('dropout', 0.1)}"
    sizes = "×".join(str(h) for h in hidden)
    return f"head: MLP {sizes} {head.get('activation', 'gelu')}, dropout {head.get('dropout')}"


def _strategy_lines(run: RunData) -> list[str]:
    name = run.strategy
    lines = [f"{name}{_strategy_options(name, run.config)}"]
    trainable = run.metrics.trainable_params
    total = run.metrics.total_params
    if run.layers:
        trainable = trainable or run.layers.trainable_params
        total = total or run.layers.total_params
    if trainable is not None:
        share = fmt.percent(trainable, total)
        lines.append(f"{fmt.params(trainable)} of {fmt.params(total)} trainable ({share})")
    if run.layers:
        states = [g.state for g in run.layers.groups]
        lines.append(f"{states.count('frozen')} of {len(states)} layer groups frozen")
    return lines


def _strategy_options(name: str, cfg: dict[str, Any] | None) -> str:
    """The options that matter for ``name``, e.g. `` (k=2)``; other options are noise."""
    options = config_value(cfg, "strategy", {})
    if not options:
        return ""
    if name == "top_k":
        return f" (k={options.get('k')})"
    if name == "gradual_unfreeze":
        steps = options.get("unfreeze_every_steps")
        count, unit = (steps, "step") if steps else (options.get("unfreeze_every_epochs"), "epoch")
        unit = unit if count == 1 else f"{count} {unit}s"
        return f" (1 more group every {unit})"
    if name == "discriminative_lr":
        return f" (lr ×{options.get('lr_decay')} per layer down)"
    if name == "lora":
        lora = options.get("lora") or {}
        return f" (r={lora.get('r')}, α={lora.get('alpha')}, dropout {lora.get('dropout')})"
    return ""


def _tuning_lines(cfg: dict[str, Any] | None) -> list[str]:
    train = config_value(cfg, "train", {})
    if not train:
        return ["config.yaml not found"]
    optimizer = OPTIMIZER_NAMES.get(train.get("optimizer"), str(train.get("optimizer")))
    lr, head_lr = fmt.learning_rate(train.get("lr")), fmt.learning_rate(train.get("head_lr"))
    lines = [
        f"{optimizer} lr {lr}, head lr {head_lr}",
        f"weight decay {train.get('weight_decay')}, batch {train.get('batch_size')}",
        _schedule_text(train),
    ]
    optional = {
        "grad_clip": "grad clip {}",
        "label_smoothing": "label smoothing {}",
        "class_weights": "class weights: {}",
    }
    lines += [text.format(train[key]) for key, text in optional.items() if train.get(key)]
    if train.get("mixed_precision") not in (None, "no"):
        lines.append(f"mixed precision {train['mixed_precision']}")
    return lines


def _schedule_text(train: dict[str, Any]) -> str:
    scheduler = train.get("scheduler") or "linear"
    steps = train.get("warmup_steps")
    if steps is not None:
        return f"{scheduler} schedule, warmup {steps} steps"
    ratio = float(train.get("warmup_ratio") or 0.0)
    return f"{scheduler} schedule, warmup {ratio:.0%}" if ratio else f"{scheduler}, no warmup"


def _training_lines(run: RunData) -> list[str]:
    m, cfg = run.metrics, run.config
    planned = config_value(cfg, "train.epochs")
    epochs = f"{m.epochs_run} epochs" if m.epochs_run is not None else "epochs not recorded"
    if planned and m.epochs_run is not None and planned != m.epochs_run:
        epochs += f" (of {planned})"
    lines = [epochs + (f", {m.steps:,} steps" if m.steps else "")]
    if config_value(cfg, "train.early_stopping.enabled", False):
        metric = config_value(cfg, "train.early_stopping.metric", "?")
        patience = config_value(cfg, "train.early_stopping.patience", "?")
        lines.append(f"early stopping on {metric}, patience {patience}")
    if m.best_epoch is not None:
        lines.append(f"best epoch {m.best_epoch}")
    if m.train_seconds is not None:
        lines.append(f"{fmt.seconds(m.train_seconds)} ({fmt.seconds(m.seconds_per_epoch)}/epoch)")
    if cfg:
        lines.append(f"seed {config_value(cfg, 'train.seed')}")
    return lines


def _evaluation_lines(run: RunData) -> list[str]:
    """The test scores of the objective's table metrics, then latency and memory."""
    m = run.metrics
    scores = [f"{s.label} {fmt.score(m.test.get(s.name))}" for s in m.objective.table]
    lines = ["test " + ", ".join(scores)]
    if m.latency_ms_p50 is not None:
        p95 = fmt.number(m.latency_ms_p95, 1, "ms")
        lines.append(f"latency p50 {fmt.number(m.latency_ms_p50, 1, 'ms')}, p95 {p95}")
    if run.metrics.peak_memory_mb is not None:
        lines.append(f"peak memory {fmt.number(run.metrics.peak_memory_mb, 0, 'MB')}")
    return lines


def _export_lines(run: RunData) -> list[str]:
    lora = run.strategy == "lora"
    merged = config_value(run.config, "strategy.lora.merge", False)
    what = "LoRA adapter + head" if lora and not merged else "backbone + head"
    if lora and merged:
        what += " (LoRA merged)"
    lines = [f"model/model.safetensors: {what}", "tokenizer + tunelab_model.json"]
    if not (run.path / "model").is_dir():
        lines = [f"{what} (model/ not present here)"]
    if run.metrics.best_epoch is not None:
        lines.append(f"checkpoints/best = epoch {run.metrics.best_epoch}")
    return lines


@dataclass(frozen=True)
class _Box:
    """A laid-out step: top-left corner, height, and its text wrapped to the box width."""

    step: FlowStep
    x: float
    y: float
    height: float
    wrapped: list[str]


_GAP, _HEADER, _LINE, _PAD = 36, 26, 17.5, 10


def flowchart_svg(
    steps: Sequence[FlowStep], width: int = 1120, columns: int = 4, uid: str = "flow"
) -> str:
    """Render ``steps`` as boxes joined by arrows, wrapping to ``columns`` boxes per row.

    Returns an inline ``<svg>`` element (no external fonts or references) that scales to
    its container through its ``viewBox``. ``uid`` prefixes the arrow marker's id, which
    must be unique when one page holds several flowcharts.
    """
    uid = re.sub(r"[^A-Za-z0-9_-]", "-", uid)
    box_w = (width - _GAP * (columns - 1)) / columns
    boxes = _layout(steps, box_w, columns)
    height = max(b.y + b.height for b in boxes) if boxes else 0
    parts = [_svg_open(width, height, uid)]
    parts += [_box_svg(b, box_w) for b in boxes]
    parts += _arrows(boxes, box_w, uid)
    parts.append("</svg>")
    return "\n".join(parts)


def _layout(steps: Sequence[FlowStep], box_w: float, columns: int) -> list[_Box]:
    """Place boxes row by row; all boxes in a row share the tallest one's height."""
    chars = int((box_w - 2 * _PAD) / 6.6)  # ~6.6 px per character at 12.5 px sans-serif
    boxes: list[_Box] = []
    y = 0.0
    for start in range(0, len(steps), columns):
        row = steps[start : start + columns]
        wrapped = [_wrap(step.lines, chars) for step in row]
        height = _HEADER + _PAD + _LINE * max(len(w) for w in wrapped) + _PAD / 2
        for i, (step, lines) in enumerate(zip(row, wrapped, strict=True)):
            boxes.append(_Box(step, i * (box_w + _GAP), y, height, lines))
        y += height + _GAP
    return boxes


def _wrap(lines: Sequence[str], chars: int) -> list[str]:
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(line, chars, subsequent_indent="  ") or [""]
    return wrapped


def _svg_open(width: float, height: float, uid: str) -> str:
    # No xmlns: inline SVG in HTML5 needs none, and the report stays free of any URL.
    return (
        f'<svg class="flowchart" role="img" aria-label="process flowchart" '
        f'viewBox="-2 -2 {width + 4} {height + 4}" width="100%" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">'
        f'<defs><marker id="{uid}-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M0,0 L10,5 L0,10 z" fill="#6b7280"/></marker></defs>'
    )


def _box_svg(box: _Box, w: float) -> str:
    color = STEP_COLORS.get(box.step.title, "#495057")
    names = list(STEP_COLORS)
    number = f"{names.index(box.step.title) + 1}. " if box.step.title in names else ""
    x, y, h, r = box.x, box.y, box.height, 8
    lines = "".join(
        f'<tspan x="{x + _PAD:.1f}" dy="{_LINE if i else 0}">{escape(line)}</tspan>'
        for i, line in enumerate(box.wrapped)
    )
    band = (
        f"M{x:.1f},{y + _HEADER:.1f} v-{_HEADER - r} a{r},{r} 0 0 1 {r},-{r} "
        f"h{w - 2 * r:.1f} a{r},{r} 0 0 1 {r},{r} v{_HEADER - r}z"
    )
    return (
        f'<g><rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{r}" '
        f'fill="#ffffff" stroke="{color}" stroke-width="1.5"/>'
        f'<path d="{band}" fill="{color}"/>'
        f'<text x="{x + _PAD:.1f}" y="{y + 17.5:.1f}" fill="#ffffff" font-size="13" '
        f'font-weight="600">{number}{escape(box.step.title)}</text>'
        f'<text x="{x + _PAD:.1f}" y="{y + _HEADER + 19:.1f}" fill="#1f2937" '
        f'font-size="12.5">{lines}</text></g>'
    )


def _arrows(boxes: Sequence[_Box], w: float, uid: str) -> list[str]:
    """Straight arrows inside a row; an elbow from the end of one row to the next."""
    style = f'fill="none" stroke="#6b7280" stroke-width="1.5" marker-end="url(#{uid}-arrow)"'
    arrows = []
    for a, b in zip(boxes, boxes[1:], strict=False):
        if a.y == b.y:
            mid = a.y + _HEADER / 2
            arrows.append(f'<path d="M{a.x + w:.1f},{mid:.1f} H{b.x - 2:.1f}" {style}/>')
        else:
            bottom = a.y + a.height
            turn = bottom + _GAP / 2
            path = f"M{a.x + w / 2:.1f},{bottom:.1f} V{turn:.1f} H{b.x + w / 2:.1f} V{b.y - 2:.1f}"
            arrows.append(f'<path d="{path}" {style}/>')
    return arrows

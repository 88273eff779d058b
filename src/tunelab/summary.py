"""What a strategy trains, as a table before every run and as ``layers.json`` after."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tunelab.config import Config
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan

if TYPE_CHECKING:
    from tunelab.trainer import TrainState


def group_rows(groups: list[LayerGroup], plans: list[GroupPlan], cfg: Config) -> list[dict]:
    """One row per layer group: state, LR multiplier, effective LR, parameter counts."""
    rows = []
    for i, (group, plan) in enumerate(zip(groups, plans, strict=True)):
        base = cfg.train.head_lr if i == len(groups) - 1 else cfg.train.lr
        row = {
            "name": group.name,
            "params": group.num_params,
            "trainable_params": group.num_trainable,
            "state": plan.state,
            "lr_scale": plan.lr_scale,
            # None: train.lr is auto and not resolved yet (the range test runs later)
            "lr": (None if base == "auto" else base * plan.lr_scale) if plan.ever_trains else 0.0,
        }
        if cfg.strategy.name == "gradual_unfreeze":
            row["unfreeze_epoch"] = plan.unfreeze_epoch
            if plan.unfreeze_step is not None:
                row["unfreeze_step"] = plan.unfreeze_step
        rows.append(row)
    return rows


def trainable_line(trainable: int, total: int) -> str:
    """``"2,130,432 of 22,565,760 parameters trainable (9.4%)"``."""
    return (
        f"{trainable:,} of {total:,} parameters trainable ({100 * trainable / max(total, 1):.1f}%)"
    )


def print_groups(
    console: Console, groups: list[LayerGroup], plans: list[GroupPlan], cfg: Config
) -> None:
    """The table users need to see what a strategy actually trains."""
    gradual = cfg.strategy.name == "gradual_unfreeze"
    plan_note = "→: planned unfreezing; the run prints when each group unfreezes"
    table = Table(
        title=escape(f"{cfg.model.name} · strategy {cfg.strategy.name}"),  # a path: "[v2]"
        caption=plan_note if gradual else None,
    )
    for column in ("group", "state", "lr x", "lr", "params", "trainable"):
        table.add_column(column, justify="left" if column in ("group", "state") else "right")
    for row in group_rows(groups, plans, cfg):
        state = row["state"]
        if row.get("unfreeze_step"):
            state += f" → step {row['unfreeze_step'] + 1}"
        elif row.get("unfreeze_epoch"):
            state += f" → ep {row['unfreeze_epoch'] + 1}"
        table.add_row(
            escape(row["name"]),  # module names come from the user's model: "blocks[0]"
            state,
            f"{row['lr_scale']:.3g}",
            "auto" if row["lr"] is None else f"{row['lr']:.2e}",
            f"{row['params']:,}",
            f"{row['trainable_params']:,}",
        )
    console.print(table)
    trainable = sum(g.num_trainable for g in groups)
    console.print(trainable_line(trainable, sum(g.num_params for g in groups)))


def layers_report(
    groups: list[LayerGroup],
    plans: list[GroupPlan],
    cfg: Config,
    strategy: str,
    ran: TrainState | None = None,
) -> dict:
    """The ``layers.json`` content (see docs/run_dir.md).

    With ``ran`` (the finished run's state), a group the plan unfreezes later has the
    state it ended in and ``unfrozen_at``: when it actually unfroze, or None.
    """
    rows = group_rows(groups, plans, cfg)
    for row, plan in zip(rows, plans, strict=True):
        row.pop("trainable_params")
        if ran is not None and plan.state == "frozen" and plan.ever_trains:
            _record_unfreezing(row, ran)
    return {
        "strategy": strategy,
        "groups": rows,
        "trainable_params": sum(g.num_trainable for g in groups),
        "total_params": sum(g.num_params for g in groups),
    }


def record_phase(report: dict, phase: dict | None) -> dict:
    """``report`` (``layers.json``) with the groups a strategy's own phase trained
    before the main training (``Strategy.before_training``, e.g. contrastive pairs)
    marked ``state`` "trained", ``trained_in`` the phase's name and its ``lr``."""
    if phase is None:
        return report
    for row in report["groups"]:
        if row["name"] in phase["groups"]:
            if row["state"] == "frozen":  # not counted yet: frozen for the main training
                report["trainable_params"] += row["params"]
            row.update(state="trained", trained_in=phase["name"], lr=phase["lr"], lr_scale=1.0)
    return report


def _record_unfreezing(row: dict, ran: TrainState) -> None:
    """What happened to a group planned to unfreeze: ``state`` "trained" and
    ``unfrozen_at`` ``{"epoch": 0-based, "step": optimizer steps done before}`` when it
    took at least one step unfrozen, else "frozen" and None (the run ended first)."""
    when = ran.unfrozen.get(row["name"])
    trained = when is not None and when["step"] < ran.step
    row["state"] = "trained" if trained else "frozen"
    row["unfrozen_at"] = dict(when) if trained else None


def describe_layers(model_name: str) -> list[dict]:
    """Layer groups of a model (with a 2-class head), without training anything.

    Image models (known ones and any timm architecture) show stem, stages, final, head;
    text models embeddings, layers, head.
    """
    from tunelab.tasks import task_for_model

    return task_for_model(model_name).describe_layers(model_name)

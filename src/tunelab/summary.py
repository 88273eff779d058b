"""What a strategy trains, as a table before every run and as ``layers.json`` after."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from tunelab.config import Config
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan


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
    table = Table(title=f"{cfg.model.name} · strategy {cfg.strategy.name}")
    for column in ("group", "state", "lr x", "lr", "params", "trainable"):
        table.add_column(column, justify="left" if column in ("group", "state") else "right")
    for row in group_rows(groups, plans, cfg):
        state = row["state"]
        if row.get("unfreeze_epoch"):
            state += f" → ep {row['unfreeze_epoch'] + 1}"
        table.add_row(
            row["name"],
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
    groups: list[LayerGroup], plans: list[GroupPlan], cfg: Config, strategy: str
) -> dict:
    """The ``layers.json`` content (see docs/run_dir.md)."""
    rows = group_rows(groups, plans, cfg)
    for row in rows:
        row.pop("trainable_params")
    return {
        "strategy": strategy,
        "groups": rows,
        "trainable_params": sum(g.num_trainable for g in groups),
        "total_params": sum(g.num_params for g in groups),
    }


def describe_layers(model_name: str) -> list[dict]:
    """Layer groups of a model (with a 2-class head), without training anything.

    Image models (known ones and any timm architecture) show stem, stages, final, head;
    text models embeddings, layers, head.
    """
    from tunelab.tasks import task_for_model

    return task_for_model(model_name).describe_layers(model_name)

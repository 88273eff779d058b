"""What a training run shows while it trains: the progress bar and one line per evaluation."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

from tunelab.objective import Objective


class RunningLoss:
    """Mean loss and the objective's training score over the batches of one epoch so far."""

    def __init__(
        self, total: float = 0.0, score_sum: float = 0.0, count: int = 0, batches: int = 0
    ):
        self.total, self.score_sum, self.count, self.batches = total, score_sum, count, batches

    def state(self) -> list[float]:
        """The sums so far, for a checkpoint: a mid-epoch resume continues them, so the
        epoch's training loss covers every batch, not only those after the resume."""
        return [self.total, self.score_sum, self.count, self.batches]

    def add(self, loss: float, score: float, n: int) -> None:
        """Count one batch: its mean loss, its score summed over examples, and its size."""
        self.total += loss
        self.score_sum += score
        self.count += n
        self.batches += 1

    @property
    def loss(self) -> float:
        """Mean of the batch losses."""
        return self.total / max(self.batches, 1)

    @property
    def score(self) -> float:
        """The training score per example (e.g. accuracy: the share predicted right)."""
        return self.score_sum / max(self.count, 1)


def progress_bar(console: Console) -> Progress:
    """Batches done, time left and loss / LR / throughput; gone when the epoch ends."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
        transient=True,
        disable=console.quiet,
    )


def format_history_row(row: dict, objective: Objective) -> str:
    """One ``history.jsonl`` row as the line printed after each evaluation."""
    train = f"train loss {row['train_loss']:.4f}"
    if objective.train_metric:
        train += f" {objective.spec(objective.train_metric).short} "
        train += f"{row[f'train_{objective.train_metric}']:.3f}"
    shown = [s for s in objective.metrics if s.name != "loss"][:2]
    val = f"val loss {row['val_loss']:.4f}" + "".join(
        f" {spec.short or spec.name} {row[f'val_{spec.name}']:.3f}" for spec in shown
    )
    return f"epoch {row['epoch']} step {row['step']}: {train} | {val} ({row['seconds']:.1f}s)"

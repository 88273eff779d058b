"""What a training run shows while it trains: the progress bar and one line per evaluation."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn


class RunningLoss:
    """Mean loss and accuracy over the batches of one epoch so far."""

    def __init__(self) -> None:
        self.total, self.correct, self.count, self.batches = 0.0, 0, 0, 0

    def add(self, loss: float, correct: int, n: int) -> None:
        """Count one batch: its mean loss, correct predictions and size."""
        self.total += loss
        self.correct += correct
        self.count += n
        self.batches += 1

    @property
    def loss(self) -> float:
        """Mean of the batch losses."""
        return self.total / max(self.batches, 1)

    @property
    def accuracy(self) -> float:
        """Share of examples predicted right."""
        return self.correct / max(self.count, 1)


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


def format_history_row(row: dict) -> str:
    """One ``history.jsonl`` row as the line printed after each evaluation."""
    return (
        f"epoch {row['epoch']} step {row['step']}: train loss {row['train_loss']:.4f} "
        f"acc {row['train_accuracy']:.3f} | val loss {row['val_loss']:.4f} "
        f"acc {row['val_accuracy']:.3f} f1 {row['val_f1_macro']:.3f} ({row['seconds']:.1f}s)"
    )

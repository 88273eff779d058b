"""TensorBoard: event files in ``<run_dir>/tensorboard/``.

Scalars go under ``val/``, ``train/`` and ``test/``; the config is a text summary and,
with the final test metrics, an HParams entry. A comparison or search needs no parent:
its runs are sub-directories of its output directory, so
``tensorboard --logdir <output>`` shows them side by side.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from torch.utils.tensorboard import SummaryWriter
from torch.utils.tensorboard.summary import hparams

from tunelab.tracking import Tracker as BaseTracker
from tunelab.tracking import flat_params, scalars

LOG_DIR = "tensorboard"
SECTIONS = ("val", "train", "test")


def tag(key: str) -> str:
    """``val_f1_macro`` -> ``val/f1_macro``; ``lr`` -> ``train/lr``."""
    section, _, rest = key.partition("_")
    return f"{section}/{rest}" if section in SECTIONS and rest else f"train/{key}"


class Tracker(BaseTracker):
    """A fine-tuning run as a TensorBoard log directory."""

    def start(self, resume: bool) -> None:
        self.writer = SummaryWriter(log_dir=str(self.run_dir / LOG_DIR))
        if not resume:
            text = yaml.safe_dump(self.cfg.to_dict(), sort_keys=False)
            # Markdown: an indented block keeps the YAML's layout.
            self.writer.add_text("config", "\n".join("    " + line for line in text.splitlines()))

    def log_metrics(self, metrics: dict[str, float], step: int) -> None:
        for key, value in metrics.items():
            self.writer.add_scalar(tag(key), value, step)

    def finish(self, metrics: dict, history: list[dict]) -> None:
        """Scalars as any backend, then the HParams entry: config beside test metrics."""
        test = scalars(metrics.get("test", {}), "test_")
        params = {k: v for k, v in flat_params(self.cfg.to_dict()).items() if len(v) <= 200}
        for summary in hparams(params, {tag(k): v for k, v in test.items()}):
            self.writer.file_writer.add_summary(summary)
        super().finish(metrics, history)

    def upload(self, files: list[Path], model_dir: Path | None) -> None:
        """The files are already beside the event files, in the run directory."""

    def close(self, status: str, error: str = "") -> None:
        writer = getattr(self, "writer", None)
        if writer is None:
            return
        if error:
            writer.add_text("error", f"{status}: {error}")
        writer.close()

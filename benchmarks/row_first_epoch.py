"""Row 11: a whole 3-epoch run of ``full`` and its first epoch, tunelab vs HF Trainer (CPU).

Row 1 times one epoch; a user's run is several, and the first one carries every one-off
cost (lazy initialisation, first-use kernels, the first best-weights copy). 11a is the
samples/s of the whole run, first epoch included; 11b is the first epoch's cost beyond a
later one (epoch 1 minus the median of epochs 2-3) on each side.
"""

from __future__ import annotations

from common import BenchData, Row, ratio_row
from epoch_sides import EPOCHS, EpochRun, hf_epochs, tunelab_epochs

MIN_COST = 0.01  # s: a side whose first epoch costs nothing extra is divided by this


def run(data: BenchData, log) -> list[Row]:
    """One whole run per side (each is already three epochs of work)."""
    tunelab = tunelab_epochs(data, "full")
    hf = hf_epochs(data)
    log(f"  tunelab full epochs {seconds(tunelab)}; HF Trainer epochs {seconds(hf)}")
    return whole_run_rows("11", "full, CPU fp32", tunelab, hf)


def whole_run_rows(number: str, what: str, tunelab: EpochRun, hf: EpochRun) -> list[Row]:
    """Whole-run samples/s and first-epoch cost of two runs (rows 11 and 12)."""
    return [
        ratio_row(
            f"{number}a. {what}: whole {EPOCHS}-epoch run incl. the first epoch, samples/s "
            "vs transformers.Trainer",
            tunelab.samples_per_second,
            hf.samples_per_second,
            "samples/s",
            ">= 1.3",
        ),
        ratio_row(
            f"{number}b. {what}: first epoch's one-off cost (epoch 1 - median of later "
            "epochs) vs transformers.Trainer's",
            tunelab.first_epoch_cost,
            hf.first_epoch_cost,
            "s",
            "<= 1.0",
            ratio=max(tunelab.first_epoch_cost, 0.0) / max(hf.first_epoch_cost, MIN_COST),
        ),
    ]


def seconds(run: EpochRun) -> str:
    """Its epochs' wall times, for the log."""
    return " / ".join(f"{s:.2f}" for s in run.epochs) + " s"

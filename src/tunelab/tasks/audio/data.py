"""Audio classification data: list, filter, decode, split and summarise.

:func:`prepare_audio_data` applies the class filters to the listed training pool (as for
text and images), decodes every file once into a clip of the model's rate and length
(a file that is not readable audio is an error naming it, or with
``data.on_bad_audio: skip`` is skipped and counted), drops exact duplicate clips,
splits off validation / test (seeded, stratified) unless given, and writes the summary
and warnings. Held-out sets that must not share speakers with training (the honest
test for speech) are given as their own ``data.test`` folder.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

import pandas as pd

from tunelab.data.checks import class_warnings, require_classes, require_known_labels
from tunelab.data.class_folders import content_hashes, filter_listed_classes
from tunelab.data.cleaning import CleaningReport
from tunelab.data.splits import SPLIT_NAMES, complete_splits, split_sources
from tunelab.errors import DataError
from tunelab.tasks.audio.config import AudioDataConfig
from tunelab.tasks.audio.decode import (
    AudioSet,
    ClipPolicy,
    DecodeReport,
    decode_entries,
)
from tunelab.tasks.audio.sources import list_source


@dataclass
class AudioSplits:
    """Decoded train / validation / test clips, the label list, summary and warnings."""

    train: AudioSet
    validation: AudioSet
    test: AudioSet
    labels: list[str]
    summary: dict[str, Any]
    warnings: list[str]
    policy: ClipPolicy


def prepare_audio_data(cfg: AudioDataConfig, policy: ClipPolicy, seed: int) -> AudioSplits:
    """List, filter, decode, dedupe, split and check the clips a run uses.

    Raises:
        DataError: unreadable source or file (``on_bad_audio: error``), fewer than 2
            classes, a class too small to stratify, or unknown evaluation labels.
    """
    if not cfg.train:
        raise DataError(
            "data.train is not set; set it to a folder with one sub-folder of audio files "
            "per class, or a CSV/JSONL of path,label"
        )
    sources = {name: getattr(cfg, name) for name in SPLIT_NAMES if getattr(cfg, name)}
    listed = {name: list_source(src, f"data.{name}", cfg) for name, src in sources.items()}
    report = CleaningReport()
    listed = filter_listed_classes(listed, cfg.min_class_count, cfg.max_per_class, seed, report)
    bad = DecodeReport()
    decoded = {
        name: decode_entries(entries, policy, cfg.on_bad_audio, f"data.{name}", bad)
        for name, entries in listed.items()
    }
    decoded["train"], dropped = _dedupe(decoded["train"])
    origins = {name: entries.origin for name, entries in listed.items()}
    require_classes(pd.DataFrame({"label": decoded["train"].labels}), origins["train"], report)
    splits = complete_splits(decoded, cfg, seed, lambda s: s.labels, lambda s, rows: s.take(rows))
    labels = sorted(set(splits["train"].labels))
    for name in ("validation", "test"):
        if name in sources:
            require_known_labels(
                pd.DataFrame({"label": splits[name].labels}), labels, f"data.{name}", origins[name]
            )
    counts = {
        "dropped_duplicates": dropped,
        "dropped_missing": sum(e.dropped_missing for e in listed.values()),
    }
    summary = audio_summary(splits, labels, split_sources(cfg), report, bad, counts, policy)
    return AudioSplits(
        **splits, labels=labels, summary=summary, warnings=summary["warnings"], policy=policy
    )


def _dedupe(clips: AudioSet) -> tuple[AudioSet, int]:
    """Drop repeated clips (identical samples after decoding), the first one kept."""
    seen: set[str] = set()
    keep = [i for i, h in enumerate(content_hashes(clips.waves)) if not (h in seen or seen.add(h))]
    return (clips if len(keep) == len(clips) else clips.take(keep)), len(clips) - len(keep)


def audio_summary(
    splits: dict[str, AudioSet],
    labels: list[str],
    sources: dict[str, str],
    report: CleaningReport,
    bad: DecodeReport,
    counts: dict[str, int],
    policy: ClipPolicy,
) -> dict[str, Any]:
    """The ``data_summary.json`` content of an audio run."""
    hashes = {name: set(content_hashes(clips.waves)) for name, clips in splits.items()}
    leaked = {
        name: sum(h in hashes["train"] for h in hashes[name]) for name in ("validation", "test")
    }
    warnings = [
        f"{where}: skipped {len(files)} unreadable audio file(s) (first: {files[0]}); "
        "data.on_bad_audio: skip"
        for where, files in bad.bad.items()
    ]
    warnings += class_warnings(pd.DataFrame({"label": splits["train"].labels}))
    warnings += [
        f"{n} of {len(splits[name])} {name} clips also occur in train (identical samples): "
        f"they leak and inflate {name} scores"
        for name, n in leaked.items()
        if n
    ]
    return {
        "task": "audio_classification",
        "labels": list(labels),
        "splits": {name: _split_summary(c, labels, sources[name]) for name, c in splits.items()},
        "duplicates_across_splits": {f"train-{k}": v for k, v in leaked.items()},
        "cleaning": {
            **counts,
            "bad_audio_files": bad.count,
            "bad_files": bad.first_files(),
            **report.class_filters(),
        },
        "clip_policy": {**policy.to_dict(), "description": policy.describe()},
        "warnings": warnings,
    }


def _split_summary(clips: AudioSet, labels: list[str], source: str) -> dict[str, Any]:
    sizes = pd.Series(clips.labels).value_counts()
    return {
        "n": len(clips),
        "source": source,
        "class_counts": {label: int(sizes.get(label, 0)) for label in labels},
        "seconds": _spread(clips.durations),
        "sample_rates": sorted(set(clips.rates)),
        "multichannel": sum(c > 1 for c in clips.channels),
        "cut": sum(clips.cut),
    }


def _spread(values: list[float]) -> dict[str, float]:
    if not values:
        return {"min": 0.0, "p50": 0.0, "max": 0.0}
    return {
        "min": round(min(values), 3),
        "p50": round(float(statistics.median(values)), 3),
        "max": round(max(values), 3),
    }

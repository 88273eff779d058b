"""``tunelab evaluate`` for an audio run: a labelled folder or path,label table."""

from __future__ import annotations

from pathlib import Path

from tunelab.errors import DataError


def evaluate_audio(
    predictor, run_dir: Path, data: str, label_column: str | None, latency_samples: int = 50
) -> dict:
    """Metrics of an audio run's model on a labelled folder or path,label table.

    Files go through the model's clip policy; an unreadable one is an error naming it,
    or skipped with the run's ``data.on_bad_audio: skip``.

    Raises:
        DataError: unreadable source or file, or labels the model was never trained on.
    """
    from tunelab.config import load_config
    from tunelab.metrics import classification_metrics, measure_latency
    from tunelab.tasks.audio.decode import DecodeReport, decode_entries
    from tunelab.tasks.audio.sources import list_source

    saved = run_dir / "config.yaml"
    run_data = load_config(saved).data if saved.is_file() else None
    base = run_data or load_config(base={"task": "audio_classification"}).data
    data_cfg = base.model_copy(update={"label_column": label_column or base.label_column})
    entries = list_source(data, "--data", data_cfg)
    clips = decode_entries(
        entries, predictor.frontend.policy, data_cfg.on_bad_audio, "--data", DecodeReport()
    )
    unknown = sorted(set(clips.labels) - set(predictor.labels))
    if unknown:
        raise DataError(
            f"--data {data}: label '{unknown[0]}' was not seen in training "
            f"(known: {', '.join(predictor.labels)}); remove those files"
        )
    waves = [wave.numpy() for wave in clips.waves]
    probs = predictor.predict_proba(waves)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = classification_metrics(
        [ids[v] for v in clips.labels], probs.argmax(-1).tolist(), predictor.labels
    )
    metrics.update(measure_latency(lambda w: predictor.predict_proba([w]), waves[:latency_samples]))
    metrics["n"] = len(waves)
    return metrics

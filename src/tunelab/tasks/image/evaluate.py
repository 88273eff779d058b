"""``tunelab evaluate`` for an image run: a labelled folder or path,label table."""

from __future__ import annotations

from pathlib import Path

from tunelab.errors import DataError
from tunelab.tasks.image.predictor import ImagePredictor


def evaluate_images(
    predictor: ImagePredictor,
    run_dir: Path,
    data: str,
    label_column: str | None,
    latency_samples: int = 50,
) -> dict:
    """Metrics of an image run's model on a labelled folder or path,label table
    (a multi-label or regression run: a table of path and labels or number).

    Columns default to the run's ``data.path_column`` / ``data.label_column``; a file that
    is not a readable image is an error naming it, or skipped with the run's
    ``data.on_bad_image: skip``.

    Raises:
        DataError: unreadable source or image, or labels the model was never trained on.
    """
    from tunelab.config import load_config
    from tunelab.metrics import classification_metrics
    from tunelab.tasks.image.decode import DecodeReport, decode_entries
    from tunelab.tasks.image.sources import list_source
    from tunelab.tasks.target_predictions import evaluate_targets

    run_data = (
        load_config(run_dir / "config.yaml").data if (run_dir / "config.yaml").is_file() else None
    )
    data_cfg = (run_data or load_config().data).model_copy(
        update={"label_column": label_column or (run_data.label_column if run_data else "label")}
    )
    entries = list_source(data, "--data", data_cfg)
    images = decode_entries(
        entries, predictor.preprocessing, data_cfg.on_bad_image, "--data", DecodeReport()
    )
    arrays = [image.permute(1, 2, 0).numpy() for image in images.images]
    if predictor.problem_type != "single_label":
        columns = (data_cfg.label_column, data_cfg.label_separator)
        metrics = evaluate_targets(predictor, arrays, images.labels, columns, f"--data {data}")
        return _with_latency(metrics, predictor, arrays[:latency_samples])
    unknown = sorted(set(images.labels) - set(predictor.labels))
    if unknown:
        raise DataError(
            f"--data {data}: label '{unknown[0]}' was not seen in training "
            f"(known: {', '.join(predictor.labels)}); remove those images"
        )
    probs = predictor.predict_proba(arrays)
    ids = {label: i for i, label in enumerate(predictor.labels)}
    metrics = classification_metrics(
        [ids[v] for v in images.labels], probs.argmax(-1).tolist(), predictor.labels
    )
    return _with_latency(metrics, predictor, arrays[:latency_samples])


def _with_latency(metrics: dict, predictor: ImagePredictor, arrays: list) -> dict:
    """``metrics`` with single-image latency and ``n`` added."""
    from tunelab.metrics import measure_latency

    metrics.update(measure_latency(lambda a: predictor.predict_proba([a]), arrays))
    metrics["n"] = len(arrays)
    return metrics

"""Row 5: single-text predict latency, ``tunelab.load(run).predict`` vs ``pipeline``.

Both load the models trained in row 1 from disk: tunelab's run directory (as
``fine_tune`` writes it) and the HF model saved with ``save_pretrained``. Calls are
interleaved text by text (order alternating), so machine load hits both sides alike.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import MAX_LENGTH, BenchData, Row, Sizes, model_path, ratio_row

import tunelab
from tunelab.config import Config
from tunelab.tasks.text.config import TextModelConfig
from tunelab.tasks.text.save import save_model


def run(data: BenchData, sizes: Sizes, trained, log) -> list[Row]:
    """p50 over ``latency_texts`` test texts, two passes, after a warm-up."""
    from transformers import pipeline

    folder = Path(tempfile.mkdtemp(prefix="bench-latency-"))
    cfg = Config(model=TextModelConfig(name=str(model_path()), max_length=MAX_LENGTH))
    full = trained.tunelab_full
    save_model(folder / "run" / "model", full.model, full.tokenizer, data.labels, cfg, model_path())
    trained.hf_model.save_pretrained(str(folder / "hf"))
    trained.hf_tokenizer.save_pretrained(str(folder / "hf"))
    predictor = tunelab.load(folder / "run")
    classify = pipeline(
        "text-classification",
        model=str(folder / "hf"),
        device=-1,
        truncation=True,
        max_length=MAX_LENGTH,
    )
    sides = {"tunelab": predictor.predict, "pipeline": classify}
    texts = data.test[0][: sizes.latency_texts]
    for fn in sides.values():
        for text in texts[:3]:
            fn(text)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for repeat in range(2):
        for i, text in enumerate(texts):
            order = list(sides) if (i + repeat) % 2 == 0 else list(reversed(sides))
            for name in order:
                started = time.perf_counter()
                sides[name](text)
                times[name].append((time.perf_counter() - started) * 1000)
    p50 = {name: float(np.percentile(values, 50)) for name, values in times.items()}
    log(f"  p50 tunelab {p50['tunelab']:.1f} ms, pipeline {p50['pipeline']:.1f} ms")
    return [
        ratio_row(
            "5. single-text predict p50 latency vs transformers.pipeline",
            p50["tunelab"],
            p50["pipeline"],
            "ms",
            "<= 0.5",
        )
    ]

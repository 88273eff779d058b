"""Serve a finished run over HTTP (FastAPI): ``tunelab serve RUN_DIR``.

The app holds one loaded :class:`~tunelab.inference.Predictor`; requests are batched by
the client (a list of texts per call), and inference runs under ``inference_mode``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from tunelab.errors import TunelabError
from tunelab.inference import load

MAX_TEXTS_PER_REQUEST = 256


class PredictRequest(BaseModel):
    """``POST /predict`` body: the texts to classify, one batch per request."""

    texts: list[str] = Field(min_length=1, max_length=MAX_TEXTS_PER_REQUEST)


def create_app(run_dir: str | Path, device: str = "cpu"):
    """A FastAPI app with ``GET /health``, ``GET /info`` and ``POST /predict``.

    Raises:
        TunelabError: fastapi is not installed, or ``run_dir`` holds no trained model.
    """
    try:
        from fastapi import FastAPI, HTTPException
    except ImportError:
        raise TunelabError("tunelab serve needs fastapi: pip install 'tunelab[serve]'") from None

    predictor = load(run_dir, device=device)

    app = FastAPI(title="tunelab", description=f"classifier from {run_dir}")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/info")
    def info() -> dict:
        return {"run_dir": str(run_dir), "labels": predictor.labels}

    @app.post("/predict")
    def predict(request: PredictRequest) -> list[dict]:
        if any(not text.strip() for text in request.texts):
            raise HTTPException(status_code=422, detail="texts must not be empty strings")
        return [
            {"label": p.label, "probabilities": p.probabilities}
            for p in predictor.predict(request.texts)
        ]

    return app

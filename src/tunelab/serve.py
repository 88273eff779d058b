"""Serve a finished run over HTTP (FastAPI): ``tunelab serve RUN_DIR``.

The app holds one loaded predictor; requests are batched by the client (a list per call)
and inference runs under ``inference_mode``. Text runs take ``{"texts": [...]}``; image
runs take ``{"images": [...]}``, each a base64-encoded image file (PNG, JPEG, ...) that is
preprocessed exactly as in training.
"""

from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, model_validator

from tunelab.errors import TunelabError
from tunelab.inference import load

MAX_ITEMS_PER_REQUEST = 256


class PredictRequest(BaseModel):
    """``POST /predict`` body: one batch of texts or of base64-encoded images."""

    model_config = {"extra": "forbid"}

    texts: list[str] | None = Field(None, min_length=1, max_length=MAX_ITEMS_PER_REQUEST)
    images: list[str] | None = Field(None, min_length=1, max_length=MAX_ITEMS_PER_REQUEST)

    @model_validator(mode="after")
    def _one_kind(self) -> PredictRequest:
        if (self.texts is None) == (self.images is None):
            raise ValueError('send either "texts" or "images" (base64-encoded files)')
        return self


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

    task = predictor.task

    @app.get("/info")
    def info() -> dict:
        return {"run_dir": str(run_dir), "task": task, "labels": predictor.labels}

    @app.post("/predict")
    def predict(request: PredictRequest) -> list[dict]:
        try:
            inputs = _inputs_for(task, request)
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return [
            {"label": p.label, "probabilities": p.probabilities} for p in predictor.predict(inputs)
        ]

    return app


def _inputs_for(task: str, request: PredictRequest) -> list[Any]:
    """The request's items in the form the predictor takes, or ValueError saying why not."""
    if task == "image_classification":
        if request.images is None:
            raise ValueError('this model classifies images: send {"images": [base64, ...]}')
        return [_decode_image(data, i) for i, data in enumerate(request.images)]
    if request.texts is None:
        raise ValueError('this model classifies texts: send {"texts": [...]}')
    if any(not text.strip() for text in request.texts):
        raise ValueError("texts must not be empty strings")
    return request.texts


def _decode_image(data: str, index: int):
    """A PIL image from a base64-encoded image file."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(base64.b64decode(data, validate=True)))
        image.load()
    except (binascii.Error, UnidentifiedImageError, OSError) as err:
        raise ValueError(f"images[{index}]: not a base64-encoded image file ({err})") from None
    return image

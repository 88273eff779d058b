"""Serve a finished run over HTTP (FastAPI): ``tunelab serve RUN_DIR``.

The app holds one loaded predictor; requests are batched by the client (a list per call)
and inference runs under ``inference_mode``. What a request carries is the task's: text
runs take ``{"texts": [...]}``, image runs ``{"images": [...]}`` (base64-encoded image
files, preprocessed exactly as in training).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from tunelab.errors import TunelabError
from tunelab.inference import load
from tunelab.run_dir import model_dir_of, read_model_card

MAX_ITEMS_PER_REQUEST = 256


class PredictRequest(BaseModel):
    """``POST /predict`` body: one batch of inputs under the key the task reads."""

    model_config = {"extra": "forbid"}

    texts: list[Any] | None = Field(None, min_length=1, max_length=MAX_ITEMS_PER_REQUEST)
    images: list[str] | None = Field(None, min_length=1, max_length=MAX_ITEMS_PER_REQUEST)


def create_app(run_dir: str | Path, device: str = "cpu"):
    """A FastAPI app with ``GET /health``, ``GET /info`` and ``POST /predict``.

    Raises:
        TunelabError: fastapi is not installed, or ``run_dir`` holds no trained model.
    """
    try:
        from fastapi import FastAPI, HTTPException
    except ImportError:
        raise TunelabError("tunelab serve needs fastapi: pip install 'tunelab[serve]'") from None
    from tunelab.tasks import get_task

    card = read_model_card(model_dir_of(Path(run_dir)))
    task = get_task(card["task"])
    predictor = load(run_dir, device=device)

    app = FastAPI(title="tunelab", description=f"{task.name} model from {run_dir}")

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/info")
    def info() -> dict:
        return {"run_dir": str(run_dir), "task": task.name, "labels": card.get("labels")}

    @app.post("/predict")
    def predict(request: PredictRequest) -> list[dict]:
        try:
            inputs = task.request_inputs(request.model_dump(exclude_none=True))
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        return [p.to_dict() for p in predictor.predict(inputs)]

    return app

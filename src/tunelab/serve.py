"""Serve a finished run over HTTP (FastAPI): ``tunelab serve RUN_DIR``.

The app holds one loaded predictor; requests are batched by the client (a list per call)
and inference runs under ``inference_mode``. What a request carries is the task's: text
runs take ``{"texts": [...]}``, image runs ``{"images": [...]}`` (base64-encoded image
files, preprocessed exactly as in training).

Every request is bounded (:class:`ServeLimits`): a body over ``max_body_bytes`` is
answered 413 before it is parsed (the ``Content-Length`` header is checked, and a body
streamed without one is counted as it arrives and cut off at the limit), more than
``max_items`` inputs or a text over ``max_chars`` characters is answered 422 naming the
item. One oversized request then costs at most the limit in memory, not the 1.4 GB a
10 MB text once took. Texts within the limits but longer than the model's
``max_length`` are cut before tokenization (see the text predictor).

A model whose output is not finite (a diverged run) is answered as ``tunelab predict``
answers it: each such record has null for every NaN/inf and an ``error``, so the body
stays valid JSON, and the server's console says so once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model
from rich.console import Console
from rich.markup import escape

from tunelab.errors import ConfigError, DataError, TunelabError
from tunelab.inference import load
from tunelab.io import finite_record
from tunelab.run_dir import model_dir_of, read_model_card

MAX_ITEMS_PER_REQUEST = 256


@dataclass(frozen=True)
class ServeLimits:
    """What one ``POST /predict`` may carry.

    Attributes:
        max_body_bytes: request body size; larger is 413, checked before parsing.
        max_items: inputs per request; more is 422.
        max_chars: characters per text; longer is 422 naming the item.
    """

    max_body_bytes: int = 16 * 2**20
    max_items: int = MAX_ITEMS_PER_REQUEST
    max_chars: int = 100_000

    def __post_init__(self) -> None:
        for name in ("max_body_bytes", "max_items", "max_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"serve limit {name}={getattr(self, name)} must be at least 1; "
                    "pass a positive --max-body-mb / --max-items / --max-chars"
                )

    @classmethod
    def from_options(cls, max_body_mb: float, max_items: int, max_chars: int) -> ServeLimits:
        """Limits from the ``tunelab serve`` options (the body in MiB)."""
        return cls(int(max_body_mb * 2**20), max_items, max_chars)


def request_model() -> type[BaseModel]:
    """The ``POST /predict`` body: one batch under the key a task reads (``texts``,
    ``images``, ``prompts``: each task's ``request_key``); any other key is refused."""
    from tunelab.tasks import all_tasks

    fields: dict[str, Any] = {
        task.request_key: (list[Any] | None, Field(None, min_length=1)) for task in all_tasks()
    }
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid"), **fields)


PredictRequest = request_model()


def _text_keys() -> set[str]:
    """Request keys whose items are texts, bounded by ``max_chars`` (images are base64
    files, bounded by the body size alone)."""
    from tunelab.tasks import all_tasks

    return {task.request_key for task in all_tasks() if task.request_is_text}


def check_request(request: BaseModel, limits: ServeLimits) -> None:
    """ValueError naming the first part of ``request`` over ``limits``."""
    for key, items in request.model_dump(exclude_none=True).items():
        if len(items) > limits.max_items:
            raise ValueError(
                f"{key}: {len(items)} items; at most {limits.max_items} per request "
                "(split the batch, or start the server with a larger --max-items)"
            )
    for key in _text_keys():
        for index, text in enumerate(getattr(request, key, None) or []):
            if isinstance(text, str) and len(text) > limits.max_chars:
                raise ValueError(
                    f"{key}[{index}]: {len(text):,} characters; at most {limits.max_chars:,} "
                    "per text (shorten it, or start the server with a larger --max-chars)"
                )


class BodySizeLimit:
    """ASGI middleware: 413 for a request body over ``max_bytes``, before anything parses it.

    A declared ``Content-Length`` over the limit is refused without reading the body; a
    body without one (chunked) is counted as it is received, and reading stops with a
    413 at the first chunk past the limit.
    """

    def __init__(self, app, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, int(declared))
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive):
        from fastapi import HTTPException

        received = 0

        async def counted_receive() -> dict:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(status_code=413, detail=self._message(None))
            return message

        return counted_receive

    def _message(self, size: int | None) -> str:
        """``size``: the declared size (None: a streamed body that passed the limit)."""
        what = "over the limit" if size is None else f"{size / 2**20:.1f} MB"
        return (
            f"request body is {what}; at most {self.max_bytes / 2**20:.1f} MB per request "
            "(send fewer or smaller inputs, or start the server with a larger --max-body-mb)"
        )

    async def _refuse(self, scope, receive, send, size: int) -> None:
        from fastapi.responses import JSONResponse

        response = JSONResponse({"detail": self._message(size)}, status_code=413)
        await response(scope, receive, send)


def create_app(run_dir: str | Path, device: str = "cpu", limits: ServeLimits | None = None):
    """A FastAPI app with ``GET /health``, ``GET /info`` and ``POST /predict``.

    Args:
        run_dir: a finished run directory.
        device: where the model runs (``cpu``, ``cuda``).
        limits: what one request may carry (default :class:`ServeLimits`).

    Raises:
        TunelabError: fastapi is not installed, or ``run_dir`` holds no trained model.
    """
    try:
        from fastapi import FastAPI, HTTPException
    except ImportError:
        raise TunelabError("tunelab serve needs fastapi: pip install 'tunelab[serve]'") from None
    from tunelab.tasks import get_task

    limits = limits or ServeLimits()
    card = read_model_card(model_dir_of(Path(run_dir)))
    task = get_task(card["task"])
    predictor = load(run_dir, device=device)

    app = FastAPI(title="tunelab", description=f"{task.name} model from {run_dir}")
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/info")
    def info() -> dict:
        return {"run_dir": str(run_dir), "task": task.name, "labels": card.get("labels")}

    @app.post("/predict")
    @app.post("/generate")  # the same route under the name language-model clients expect
    def predict(request: PredictRequest) -> list[dict]:
        try:
            check_request(request, limits)
            inputs = task.request_inputs(request.model_dump(exclude_none=True))
        except ValueError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        try:  # what only the model's own limits reject (a question over a window)
            raw = [p.to_dict() for p in predictor.predict(inputs)]
        except DataError as err:
            raise HTTPException(status_code=422, detail=str(err)) from None
        records = [finite_record(record) for record in raw]  # NaN is not JSON: null + error
        _warn_nonfinite(
            sum(a is not b for a, b in zip(raw, records, strict=True)), len(raw), run_dir
        )
        return records

    return app


def _warn_nonfinite(bad: int, total: int, run_dir: str | Path) -> None:
    """One console line when ``bad`` of a request's predictions held NaN/inf."""
    if bad:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            f"[yellow]warning:[/] {bad} of {total} predictions of "
            f"{escape(str(run_dir))} are not finite, sent as null with an error: the "
            "model's weights are damaged, e.g. by a diverged run"
        )

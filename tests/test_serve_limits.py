"""What one ``serve`` request may carry: body size (413 before parsing), items and
characters per text (422 naming the item), and a bounded load of bad requests that must
not grow the process."""

from __future__ import annotations

import inspect
import time

import psutil
import pytest

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tests.conftest import train_tiny_text_run  # noqa: E402
from tunelab.errors import ConfigError  # noqa: E402
from tunelab.serve import ServeLimits, create_app  # noqa: E402

MB = 2**20


@pytest.fixture(scope="module")
def served_run(tiny_model_dir, tmp_path_factory):
    return train_tiny_text_run(tiny_model_dir, tmp_path_factory.mktemp("serve-limits"))


@pytest.fixture(scope="module")
def client(served_run):
    limits = ServeLimits(max_body_bytes=1 * MB, max_items=4, max_chars=1000)
    return TestClient(create_app(served_run, limits=limits))


def _chunks(total: int, size: int = 64 * 1024):
    """A body streamed without Content-Length (chunked transfer)."""
    for start in range(0, total, size):
        yield b"x" * min(size, total - start)


def test_a_body_over_the_limit_is_413_from_its_content_length(client):
    response = client.post("/predict", content=b'{"texts": ["' + b"a" * (2 * MB) + b'"]}')
    assert response.status_code == 413
    detail = response.json()["detail"]
    assert "2.0 MB" in detail and "at most 1.0 MB" in detail and "--max-body-mb" in detail


def test_a_streamed_body_is_cut_off_at_the_limit(client):
    response = client.post(
        "/predict", content=_chunks(3 * MB), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"].startswith("request body is over the limit; at most 1.0 MB")


def test_a_chunked_body_is_read_only_up_to_the_limit(client):
    """Driven as uvicorn drives the app: 64 KiB chunks of an endless body. Reading stops
    at the first chunk past 1 MB and the answer is 413."""
    import asyncio

    chunk, consumed, sent = b"x" * (64 * 1024), [], []

    async def receive() -> dict:
        consumed.append(len(chunk))
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(client.app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    assert sum(consumed) == 1 * MB + 64 * 1024  # 16 chunks within the limit, one past it


def test_a_body_within_the_limit_is_served(client):
    response = client.post("/predict", json={"texts": ["pizza and pasta"] * 4})
    assert response.status_code == 200 and len(response.json()) == 4


def test_too_many_items_is_422_with_the_limit(client):
    response = client.post("/predict", json={"texts": ["pizza"] * 5})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("texts: 5 items; at most 4 per request")


def test_a_text_over_max_chars_is_422_naming_it(client):
    texts = ["pizza", "x" * 1000, "y" * 1001]
    response = client.post("/predict", json={"texts": texts})
    assert response.status_code == 422
    assert response.json()["detail"].startswith("texts[2]: 1,001 characters; at most 1,000")


def test_default_limits_match_the_cli_options():
    from tunelab.cli.finished_run import serve

    defaults = {name: p.default for name, p in inspect.signature(serve).parameters.items()}
    limits = ServeLimits.from_options(
        defaults["max_body_mb"], defaults["max_items"], defaults["max_chars"]
    )
    assert limits == ServeLimits()
    assert ServeLimits().max_body_bytes == 16 * MB and ServeLimits().max_items == 256


@pytest.mark.parametrize("field", ["max_body_bytes", "max_items", "max_chars"])
def test_a_limit_below_one_is_a_config_error(field):
    with pytest.raises(ConfigError, match=f"{field}=0 must be at least 1"):
        ServeLimits(**{field: 0})


def test_cli_serve_refuses_a_bad_limit_in_one_line(served_run):
    from typer.testing import CliRunner

    from tunelab.cli import app

    result = CliRunner().invoke(app, ["serve", str(served_run), "--max-items", "0"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: serve limit max_items=0 must be at least 1")


def test_a_long_text_is_cut_before_tokenizing(served_run):
    """Within max_chars, a 2 MB text costs a bounded tokenization and predicts like its
    first max_length * CHARS_PER_TOKEN characters."""
    import tunelab
    from tunelab.tasks.text.predictor import CHARS_PER_TOKEN

    predictor = tunelab.load(served_run)
    calls: list[int] = []
    tokenizer = predictor.tokenizer

    class Spy:
        def __getattr__(self, name):
            return getattr(tokenizer, name)

        def __call__(self, texts, **kwargs):
            calls.extend(len(t) for t in texts)
            return tokenizer(texts, **kwargs)

    predictor.tokenizer = Spy()
    long_text = "pizza pasta " * (2 * MB // 12)
    started = time.perf_counter()
    (probs,) = predictor.predict_proba([long_text])
    assert time.perf_counter() - started < 5.0
    assert calls == [predictor.max_length * CHARS_PER_TOKEN] == [32 * 20]
    (cut,) = predictor.predict_proba([long_text[: 32 * 20]])
    assert probs.tolist() == pytest.approx(cut.tolist(), abs=1e-6)


def test_fifty_large_bad_requests_are_refused_without_growing_the_process(served_run):
    """Bounded loopback load: 50 oversized or over-limit requests, 413 / 422 each, in
    bounded time, and the resident memory afterwards within 200 MB of before."""
    client = TestClient(
        create_app(served_run, limits=ServeLimits(max_body_bytes=2 * MB, max_chars=10_000))
    )
    process = psutil.Process()
    client.post("/predict", json={"texts": ["warm up"]})
    rss_before = process.memory_info().rss
    big_body = b'{"texts": ["' + b"a" * (8 * MB) + b'"]}'
    long_text = {"texts": ["pizza " * 300_000]}  # 1.8 MB: under the body limit
    started = time.perf_counter()
    statuses = []
    for i in range(50):
        if i % 3 == 0:
            response = client.post("/predict", content=big_body)
        elif i % 3 == 1:
            response = client.post(
                "/predict", content=_chunks(8 * MB), headers={"content-type": "application/json"}
            )
        else:
            response = client.post("/predict", json=long_text)
        statuses.append(response.status_code)
    elapsed = time.perf_counter() - started
    assert statuses.count(413) == 34 and statuses.count(422) == 16
    assert elapsed < 60.0
    grown_mb = (process.memory_info().rss - rss_before) / MB
    assert grown_mb < 200, f"RSS grew {grown_mb:.0f} MB over 50 refused requests"

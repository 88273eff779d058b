"""HTTP serving of a finished run (FastAPI TestClient, no socket needed)."""

from __future__ import annotations

import numpy as np
import pytest

import tunelab

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tests.conftest import train_tiny_text_run  # noqa: E402
from tunelab.serve import create_app  # noqa: E402


@pytest.fixture(scope="module")
def served_run(tiny_model_dir, tmp_path_factory):
    return train_tiny_text_run(tiny_model_dir, tmp_path_factory.mktemp("serve"))


def test_predict_endpoint_matches_python_api(served_run):
    client = TestClient(create_app(served_run))
    assert client.get("/health").json() == {"status": "ok"}
    labels = client.get("/info").json()["labels"]
    assert labels == ["food", "sport", "tech"]
    texts = ["pizza and pasta", "wifi router"]
    response = client.post("/predict", json={"texts": texts})
    assert response.status_code == 200
    expected = tunelab.load(served_run).predict(texts)
    body = response.json()
    assert [row["label"] for row in body] == [p.label for p in expected]
    for row, pred in zip(body, expected, strict=True):
        assert row["probabilities"] == pytest.approx(pred.probabilities, abs=1e-6)


def test_bad_requests_are_422(served_run):
    client = TestClient(create_app(served_run))
    assert client.post("/predict", json={"texts": []}).status_code == 422
    assert client.post("/predict", json={"texts": ["  "]}).status_code == 422
    assert client.post("/predict", json={"text": "x"}).status_code == 422


def test_text_model_refuses_images_with_the_right_request_shape(served_run):
    client = TestClient(create_app(served_run))
    response = client.post("/predict", json={"images": ["aGVsbG8="]})
    assert response.status_code == 422 and '"texts"' in response.json()["detail"]
    both = {"texts": ["pizza"], "images": ["aGVsbG8="]}
    assert client.post("/predict", json=both).status_code == 422


@pytest.fixture(scope="module")
def served_image_run(tmp_path_factory):
    from tests.conftest import TINY_CNN

    config = {
        "task": "image_classification",
        "model": {"name": TINY_CNN, "pretrained": False, "image_size": 32},
        "data": {"train": "builtin:digits", "max_per_class": 10},
        "train": {"epochs": 1, "batch_size": 16, "device": "cpu"},
    }
    return tunelab.fine_tune(config, tmp_path_factory.mktemp("serve-img") / "run").run_dir


def _png_base64(array) -> str:
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def test_image_model_serves_base64_files_like_the_python_api(served_image_run):
    client = TestClient(create_app(served_image_run))
    assert client.get("/info").json()["task"] == "image_classification"
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (8, 8), dtype=np.uint8) for _ in range(3)]
    response = client.post("/predict", json={"images": [_png_base64(a) for a in arrays]})
    assert response.status_code == 200, response.text
    expected = tunelab.load(served_image_run).predict(arrays)
    for row, pred in zip(response.json(), expected, strict=True):
        assert row["label"] == pred.label
        assert row["probabilities"] == pytest.approx(pred.probabilities, abs=1e-5)


def test_undecodable_image_names_its_index(served_image_run):
    client = TestClient(create_app(served_image_run))
    good = _png_base64(np.zeros((8, 8), dtype=np.uint8))
    response = client.post("/predict", json={"images": [good, "bm90IGFuIGltYWdl"]})
    assert response.status_code == 422 and "images[1]" in response.json()["detail"]
    assert client.post("/predict", json={"texts": ["a digit"]}).status_code == 422

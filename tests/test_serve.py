"""HTTP serving of a finished run (FastAPI TestClient, no socket needed)."""

from __future__ import annotations

import pytest

import tunelab

fastapi = pytest.importorskip("fastapi")
from fastapi.testclient import TestClient  # noqa: E402

from tunelab.serve import create_app  # noqa: E402


@pytest.fixture(scope="module")
def served_run(tiny_model_dir, tmp_path_factory):
    from tests.conftest import make_texts

    root = tmp_path_factory.mktemp("serve")
    make_texts(30).to_csv(root / "train.csv", index=False)
    config = {
        "model": {"name": str(tiny_model_dir), "max_length": 32},
        "data": {"train": str(root / "train.csv")},
        "train": {"epochs": 1, "batch_size": 8, "device": "cpu"},
    }
    return tunelab.fine_tune(config, root / "run").run_dir


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

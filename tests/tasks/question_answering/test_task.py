"""A question-answering run end to end on a tiny model: metrics, the saved HF QA folder,
predict (Python, CLI, serve), evaluate, export, report, and what each strategy trains."""

from __future__ import annotations

import io
import json
import re

import pytest
import torch
from rich.console import Console

import tunelab
from tests.tasks.question_answering.conftest import make_squad, qa_config, write_squad
from tunelab.evaluation import evaluate_run

QUESTION = {"question": "what does bob like ?", "context": "ann likes tea . bob likes rice ."}


def test_metrics_hold_squad_scores_latency_and_the_threshold(qa_run):
    metrics = json.loads((qa_run / "metrics.json").read_text())
    test = metrics["test"]
    for key in ("exact_match", "f1", "latency_ms_p50", "has_answer_f1", "no_answer_f1"):
        assert key in test
    assert 0 <= test["exact_match"] <= test["f1"] <= 100
    assert isinstance(metrics["no_answer_threshold"], float)
    assert metrics["objective"]["monitor"] == "f1"
    card = json.loads((qa_run / "model" / "tunelab_model.json").read_text())
    assert card["no_answer_threshold"] == metrics["no_answer_threshold"]


def test_saved_model_is_a_plain_hf_qa_model_with_the_same_logits(qa_run):
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    hf = AutoModelForQuestionAnswering.from_pretrained(str(qa_run / "model")).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(qa_run / "model"))
    batch = tokenizer(QUESTION["question"], QUESTION["context"], return_tensors="pt")
    ours = tunelab.load(qa_run).model
    with torch.inference_mode():
        expected = hf(**batch)
        got = ours(**batch)
    assert torch.allclose(got[..., 0], expected.start_logits, atol=1e-5)
    assert torch.allclose(got[..., 1], expected.end_logits, atol=1e-5)


def test_predict_returns_a_span_of_the_context(qa_run):
    answers = tunelab.load(qa_run).predict([QUESTION, (QUESTION["question"], "bob likes tea .")])
    for answer, context in zip(answers, [QUESTION["context"], "bob likes tea ."], strict=True):
        record = answer.to_dict()
        assert set(record) >= {"answer", "start", "end", "score"}
        if record["answer"]:
            assert context[record["start"] : record["end"]] == record["answer"]


def test_cli_predict_takes_question_and_context_fields_and_jsonl(qa_run, tmp_path):
    from typer.testing import CliRunner

    from tunelab.cli import app

    runner = CliRunner()
    done = runner.invoke(
        app, ["predict", str(qa_run), "--question", QUESTION["question"], "--context",
              QUESTION["context"]],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    record = json.loads(done.stdout.strip().splitlines()[-1])
    assert record["question"] == QUESTION["question"] and "answer" in record
    rows = tmp_path / "q.jsonl"
    rows.write_text(json.dumps(QUESTION) + "\n" + json.dumps({"question": "x", "context": ""}))
    done = runner.invoke(app, ["predict", str(qa_run), "--input", str(rows)])
    lines = [json.loads(line) for line in done.stdout.strip().splitlines() if line.startswith("{")]
    assert done.exit_code == 2 and len(lines) == 2
    assert "answer" in lines[0] and lines[1]["error"] == "empty context"
    done = runner.invoke(app, ["predict", str(qa_run), "--question", "who ?"])
    assert done.exit_code == 2


def test_serve_answers_question_objects(qa_run):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from tunelab.serve import create_app

    client = TestClient(create_app(qa_run))
    response = client.post("/predict", json={"questions": [QUESTION]})
    assert response.status_code == 200, response.text
    expected = tunelab.load(qa_run).predict([QUESTION])[0].to_dict()
    assert response.json() == [expected]
    assert client.post("/predict", json={"questions": [{"question": "q"}]}).status_code == 422
    assert client.post("/predict", json={"texts": ["a"]}).status_code == 422
    too_long = {**QUESTION, "question": "why " * 40}  # over the 32-token windows
    response = client.post("/predict", json={"questions": [too_long]})
    assert response.status_code == 422, response.text
    assert "over" in response.json()["detail"] and "tokens" in response.json()["detail"]


def test_evaluate_scores_a_squad_file(qa_run, tmp_path):
    holdout = write_squad(tmp_path / "holdout.json", make_squad(3, seed=5))
    scores = evaluate_run(qa_run, str(holdout))
    assert scores["n"] == 9 and 0 <= scores["exact_match"] <= scores["f1"] <= 100


def test_report_highlights_the_predicted_span_escaped(qa_run):
    from tunelab.report.loader import load_run
    from tunelab.tasks.question_answering.report import highlighted, qa_report_sections

    assert str(highlighted("a <b> c", 2, 5)) == "a <mark>&lt;b&gt;</mark> c"
    metrics = json.loads((qa_run / "metrics.json").read_text())
    sections = qa_report_sections(load_run(qa_run))
    shown = metrics["qa_examples"]
    titles = {s.title for s in sections}
    assert ("Worst misses" in titles) == bool(shown["worst"])
    assert ("Answers in context" in titles) == bool(shown["answered"])


@pytest.mark.integration  # the exporter traces for a minute on 2 busy cores
def test_onnx_export_matches_pytorch(qa_run):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from tunelab.onnx_export import export_onnx

    done = export_onnx(qa_run)
    assert done.max_abs_diff < 1e-4 and "input_ids" in done.inputs


@pytest.mark.parametrize(
    ("strategy", "unchanged"),
    [("feature_extraction", {"embeddings", "layer.0", "layer.1"}), ("top_k", {"embeddings"})],
)
def test_strategies_train_only_their_groups(qa_model_dir, tmp_path, capsys, strategy, unchanged):
    from safetensors.torch import load_file

    from tunelab.tasks.question_answering.config import QAModelConfig
    from tunelab.tasks.question_answering.model import build_span_model
    from tunelab.tasks.question_answering.save import to_hf_model

    train = write_squad(tmp_path / "train.json", make_squad(12))
    config = qa_config(qa_model_dir, train, strategy, max_steps=1)
    config["strategy"]["name"] = strategy
    if strategy == "top_k":
        config["strategy"]["k"] = 2  # layer.0, layer.1 (+ head) train
    console = Console(file=io.StringIO(), width=200)
    run = tunelab.fine_tune(config, tmp_path / "run", console=console).run_dir
    if strategy == "feature_extraction":  # it counts what it cached: windows, not questions
        assert re.search(r"features cached for \d+ question windows", console.file.getvalue())
    saved = load_file(str(run / "model" / "model.safetensors"))
    original, _, _ = build_span_model(QAModelConfig(**qa_config(qa_model_dir, train)["model"]))
    before = to_hf_model(original).state_dict()
    changed = {name for name, value in saved.items() if not torch.equal(value, before[name])}
    groups = {_group(name) for name in changed}
    assert "head" in groups and not groups & unchanged


def _group(name: str) -> str:
    if name.startswith("qa_outputs"):
        return "head"
    if ".layer." in name:
        return "layer." + name.split(".layer.")[1].split(".")[0]
    return "embeddings"

"""Speed paths keep results: fused inference, numpy metrics, fused AdamW, thread and
precision switches, and the trainer's cheap eval-mode toggle."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tunelab.acceleration import intra_op_threads, resolve_mixed_precision
from tunelab.config import TrainConfig
from tunelab.layers import set_train_mode
from tunelab.metrics import classification_metrics
from tunelab.optim import build_optimizer, build_param_groups
from tunelab.strategies import apply_strategy, strategy_config
from tunelab.tasks.classification import ClassificationObjective
from tunelab.tasks.text.config import TextModelConfig
from tunelab.tasks.text.fused_encoder import FusedClassifier, fuse_for_inference
from tunelab.tasks.text.model import build_text_classifier
from tunelab.tasks.text.predictor import Predictor

TEXTS = ["pizza and pasta today", "the team lost the match", "my router and wifi", "a"]


def _classifier(path, pooling: str = "mean"):
    torch.manual_seed(0)
    model, tokenizer, _ = build_text_classifier(TextModelConfig(name=str(path), pooling=pooling), 3)
    return model.eval(), tokenizer


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_fused_twin_gives_the_models_logits_on_padded_batches(tiny_model_dir, pooling):
    model, tokenizer = _classifier(tiny_model_dir, pooling)
    fused = fuse_for_inference(model)
    assert isinstance(fused, FusedClassifier)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    with torch.inference_mode():
        assert torch.allclose(fused(**batch), model(**batch), atol=1e-5)


def test_fused_twin_maps_distilbert(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    config = DistilBertConfig(
        vocab_size=tokenizer.vocab_size,
        dim=32,
        n_layers=2,
        n_heads=2,
        hidden_dim=64,
        max_position_embeddings=64,
    )
    DistilBertModel(config).save_pretrained(str(tmp_path))
    tokenizer.save_pretrained(str(tmp_path))
    model, _ = _classifier(tmp_path)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt", return_token_type_ids=False)
    with torch.inference_mode():
        assert torch.allclose(fuse_for_inference(model)(**batch), model(**batch), atol=1e-5)


def test_unmappable_activation_falls_back(tiny_model_dir):
    model, _ = _classifier(tiny_model_dir)
    model.backbone.config.hidden_act = "relu"  # the blocks no longer match a gelu layer
    assert fuse_for_inference(model) is None


def test_predictor_threads_option_and_fused_path_agree(tiny_model_dir, monkeypatch):
    model, tokenizer = _classifier(tiny_model_dir)
    predictor = Predictor(model, tokenizer, ["a", "b", "c"], 32, threads=1)
    seen = []
    forward = predictor.fused.forward
    monkeypatch.setattr(
        predictor.fused,
        "forward",
        lambda *a, **k: seen.append(torch.get_num_threads()) or forward(*a, **k),
    )
    before = torch.get_num_threads()
    single = predictor.predict_proba(TEXTS[:1])
    both = predictor.predict_proba(TEXTS)
    assert set(seen) == {1} and torch.get_num_threads() == before
    assert torch.allclose(single[0], both[0], atol=1e-5)
    plain = Predictor(model, tokenizer, ["a", "b", "c"], 32, fused=False).predict_proba(TEXTS)
    assert torch.allclose(both, plain, atol=1e-5)


def test_intra_op_threads_restores_on_error():
    before = torch.get_num_threads()
    with pytest.raises(RuntimeError), intra_op_threads(1):
        assert torch.get_num_threads() == 1
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_mixed_precision_auto_is_off_without_native_bf16(monkeypatch):
    import tunelab.acceleration as acceleration

    assert resolve_mixed_precision("fp16", "cpu") == "fp16"
    monkeypatch.setattr(acceleration, "native_bf16", lambda device: False)
    assert resolve_mixed_precision("auto", "cpu") == "no"
    monkeypatch.setattr(acceleration, "native_bf16", lambda device: True)
    assert resolve_mixed_precision("auto", "cpu") == "bf16"


def test_metrics_match_scikit_learn():
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    rng = np.random.default_rng(0)
    for _ in range(50):
        k, n = int(rng.integers(2, 6)), int(rng.integers(1, 40))
        truth, pred = rng.integers(0, k, n), rng.integers(0, k - 1, n)  # some class unpredicted
        ours = classification_metrics(truth, pred, [str(i) for i in range(k)])
        p, r, f, s = precision_recall_fscore_support(
            truth, pred, labels=list(range(k)), average=None, zero_division=0
        )
        assert ours["f1_macro"] == pytest.approx(f[s > 0].mean())
        assert ours["precision_macro"] == pytest.approx(p[s > 0].mean())
        assert ours["recall_macro"] == pytest.approx(r[s > 0].mean())
        assert ours["accuracy"] == pytest.approx(np.mean(truth == pred))
        assert (
            ours["confusion_matrix"]
            == confusion_matrix(truth, pred, labels=list(range(k))).tolist()
        )


def test_adamw_is_fused(tiny_model_dir):
    model, _ = _classifier(tiny_model_dir)
    _, groups, plans = apply_strategy(model, strategy_config("full"))
    cfg = TrainConfig()
    optimizer = build_optimizer(build_param_groups(model, groups, plans, cfg), cfg)
    assert optimizer.defaults["fused"] is True


def test_evaluate_keeps_frozen_groups_in_eval_mode(tiny_model_dir):
    from tunelab.batching import TokenBatches
    from tunelab.trainer import Trainer

    model, tokenizer = _classifier(tiny_model_dir)
    _, groups, plans = apply_strategy(model, strategy_config("top_k", k=1))
    data = TokenBatches.from_texts(tokenizer, TEXTS, [0, 1, 2, 0], 16)
    trainer = Trainer(
        model,
        groups,
        plans,
        TrainConfig(device="cpu"),
        data,
        data,
        ClassificationObjective(["a", "b", "c"]),
    )
    set_train_mode(model, groups)
    modes = [m.training for m in model.modules()]
    trainer.evaluate(data)
    assert [m.training for m in model.modules()] == modes
    assert not model.backbone.embeddings.training and model.head.training

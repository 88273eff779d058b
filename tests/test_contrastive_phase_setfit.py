"""The pair phase is setfit 1.2's body training, not an imitation of it: with dropout
off and the pairs in one order, both end at the same weights, and a whole ``contrastive``
run predicts what setfit's model predicts.

setfit builds its pairs (``ContrastiveDataset``) and trains the sentence encoder with
sentence-transformers' trainer on HF Trainer (AdamW, its warmup schedule, gradient
clipping, decay groups), then fits scikit-learn's ``LogisticRegression()`` on the
normalised embeddings. Only the random streams (dropout masks, pair order) are left to
differ in a real run; these tests remove both and compare weights, then predictions.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tests.conftest import _vocab, make_texts, save_tiny_bert, tiny_setup
from tunelab import contrastive_phase
from tunelab.strategies import strategy_config
from tunelab.tasks.text.model import load_backbone
from tunelab.tasks.text.representation import pooled_embedding

MAX_LENGTH = 32  # tiny_setup's


class _InOrder(torch.utils.data.SequentialSampler):
    """sentence-transformers' RandomSampler, minus the shuffle."""

    def __init__(self, data_source, generator=None) -> None:
        super().__init__(data_source)


def _setfit_model(model_dir, frame, tmp_path, monkeypatch) -> tuple[object, list[dict]]:
    """setfit's trained model (encoder and head), pairs taken in order; and those pairs."""
    import datasets
    from setfit import SetFitModel, Trainer, TrainingArguments

    pairs: list[dict] = []
    from_list = datasets.Dataset.from_list.__func__

    def recording(cls, mapping, *args, **kwargs):
        if mapping and "sentence_1" in mapping[0]:
            pairs.extend(mapping)
        return from_list(cls, mapping, *args, **kwargs)

    monkeypatch.setattr(datasets.Dataset, "from_list", classmethod(recording))
    monkeypatch.setattr("sentence_transformers.base.trainer.RandomSampler", _InOrder)
    model = SetFitModel.from_pretrained(str(model_dir))
    model.model_body.max_seq_length = MAX_LENGTH
    args = TrainingArguments(output_dir=str(tmp_path), seed=0, report_to="none",
                             save_strategy="no", show_progress_bar=False)  # fmt: skip
    data = datasets.Dataset.from_pandas(frame[["text", "label"]])
    Trainer(model=model, args=args, train_dataset=data).train()
    return model, pairs


def _as_positions(setfit_pairs: list[dict], texts: list[str]) -> contrastive_phase.Pairs:
    """setfit's pairs of texts as tunelab's pairs of training-example positions."""
    position = {text: i for i, text in enumerate(texts)}  # a repeated text: same tokens
    return contrastive_phase.Pairs(
        first=np.array([position[p["sentence_1"]] for p in setfit_pairs]),
        second=np.array([position[p["sentence_2"]] for p in setfit_pairs]),
        target=np.array([p["label"] for p in setfit_pairs], dtype=np.float32),
        distinct_positive=0,
        distinct_negative=0,
    )


def _pairs_in_order(monkeypatch) -> None:
    """The pair phase's batches in the pairs' own order, unshuffled."""
    monkeypatch.setattr(
        contrastive_phase, "shuffled_batches",
        lambda n, size, rng: [list(range(i, min(i + size, n))) for i in range(0, n, size)],
    )  # fmt: skip


def _tunelab_body(model_dir, frame, setfit_pairs: list[dict], monkeypatch) -> dict:
    """The pair phase on the same pairs in the same order, from the same weights."""
    setup = tiny_setup(model_dir, strategy_config("contrastive"), n_per_class=4)
    pairs = _as_positions(setfit_pairs, frame["text"].tolist())
    _pairs_in_order(monkeypatch)
    params = [p for group in setup.groups[:-1] for p in group.params]
    for param in params:
        param.requires_grad_(True)
    settings = contrastive_phase.PairTraining(seed=0)  # the defaults: setfit's
    contrastive_phase.train_on_pairs(
        setup.model, params, pooled_embedding, setup.data, pairs, settings, torch.device("cpu")
    )
    return setup.model.backbone.state_dict()


def test_pair_phase_ends_at_setfits_weights(tmp_path, monkeypatch):
    model_dir = _sentence_transformer_dir(tmp_path / "model")
    frame = make_texts(4)  # the texts tiny_setup(n_per_class=4) tokenizes, in its order
    setfit_model, setfit_pairs = _setfit_model(model_dir, frame, tmp_path / "setfit", monkeypatch)
    tunelab_state = _tunelab_body(model_dir, frame, setfit_pairs, monkeypatch)
    # 12 texts: 78 pairs with self-pairs, 30 positive, 48 negative: 96 pairs, 6 steps
    assert len(setfit_pairs) == 96
    _assert_same_weights(
        tunelab_state,
        setfit_model.model_body[0].auto_model.state_dict(),
        load_backbone(model_dir).state_dict(),
    )


def _assert_same_weights(tunelab_state: dict, setfit_state: dict, start: dict) -> None:
    """Both moved from ``start``, and ended within 1e-3 of that distance of each other."""
    names = [n for n in tunelab_state if torch.is_floating_point(tunelab_state[n])]
    assert names and set(names) <= set(setfit_state)

    def norm(pairs) -> float:
        return float(torch.sqrt(sum(((a.float() - b.float()) ** 2).sum() for a, b in pairs)))

    moved = norm((setfit_state[n], start[n]) for n in names)
    apart = norm((tunelab_state[n], setfit_state[n]) for n in names)
    assert moved > 1e-3  # both trained
    assert apart < 1e-3 * moved


def _sentence_transformer_dir(path: Path) -> Path:
    """The tiny BERT with dropout off (both sides load it: no random masks to differ),
    laid out as all-MiniLM-L6-v2 is: mean pooling, then normalisation (``modules.json``),
    so setfit's head sees unit vectors as tunelab's ``contrastive`` head does."""
    save_tiny_bert(path, _vocab(), dropout=0.0)
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 32, "pooling_mode_mean_tokens": True})
    )
    (path / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": MAX_LENGTH}))
    modules = ["Transformer", "Pooling", "Normalize"]
    (path / "modules.json").write_text(json.dumps([
        {"idx": i, "name": str(i), "path": ["", "1_Pooling", "2_Normalize"][i],
         "type": f"sentence_transformers.models.{kind}"} for i, kind in enumerate(modules)
    ]))  # fmt: skip
    return path


def test_a_contrastive_run_predicts_what_setfit_predicts(tmp_path, monkeypatch):
    """The whole run (data loading, pair phase, feature caching, the solved head at C=1,
    the saved model) against setfit's Trainer and model, on the same pairs in order."""
    import tunelab
    import tunelab.strategies.contrastive as strategy

    model_dir = _sentence_transformer_dir(tmp_path / "model")
    splits = {"train": make_texts(4), "validation": make_texts(2, seed=1),
              "test": make_texts(6, seed=2)}  # fmt: skip
    for name, frame in splits.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    train = splits["train"]
    setfit_model, setfit_pairs = _setfit_model(model_dir, train, tmp_path / "setfit", monkeypatch)

    def setfits_pairs(labels, seed, num_iterations=None, max_pairs=None):
        assert list(labels) == [sorted(set(train["label"])).index(y) for y in train["label"]]
        return _as_positions(setfit_pairs, train["text"].tolist())

    monkeypatch.setattr(strategy, "contrastive_pairs", setfits_pairs)
    _pairs_in_order(monkeypatch)
    config = {
        "model": {"name": str(model_dir), "max_length": MAX_LENGTH},
        "data": {name: str(tmp_path / f"{name}.csv") for name in splits},
        "strategy": {"name": "contrastive"},
        "train": {"device": "cpu", "seed": 0},
    }
    run = tunelab.fine_tune(config, tmp_path / "run")
    assert run.metrics["strategy_phase"]["steps"] == 6  # 96 pairs, 16 a step: all trained

    predictor = tunelab.load(run.run_dir)
    _assert_same_weights(
        predictor.model.backbone.state_dict(),
        setfit_model.model_body[0].auto_model.state_dict(),
        load_backbone(model_dir).state_dict(),
    )
    texts = splits["test"]["text"].tolist()
    ours = predictor.predict_proba(texts).numpy()
    theirs = pd.DataFrame(setfit_model.predict_proba(texts, as_numpy=True),
                          columns=setfit_model.model_head.classes_)[predictor.labels]  # fmt: skip
    assert np.abs(ours - theirs.to_numpy()).max() < 1e-3  # seen: 1.1e-4
    assert ours.argmax(1).tolist() == theirs.to_numpy().argmax(1).tolist()
    assert len(set(ours.argmax(1).tolist())) == 3  # a head that learnt, not one constant class

"""The pair phase is setfit 1.2's body training, not an imitation of it: with dropout
off and the pairs in one order, both end at the same weights.

setfit builds its pairs (``ContrastiveDataset``) and trains the sentence encoder with
sentence-transformers' trainer on HF Trainer (AdamW, its warmup schedule, gradient
clipping, decay groups). Only the random streams (dropout masks, pair order) are left
to differ in a real run; this test removes both and compares the weights.
"""

from __future__ import annotations

import numpy as np
import torch

from tests.conftest import make_texts, tiny_setup
from tunelab import contrastive_phase
from tunelab.strategies import strategy_config
from tunelab.tasks.text.model import load_backbone
from tunelab.tasks.text.representation import pooled_embedding

MAX_LENGTH = 32  # tiny_setup's


def _no_dropout(module: torch.nn.Module) -> None:
    for child in module.modules():
        if isinstance(child, torch.nn.Dropout):
            child.p = 0.0


class _InOrder(torch.utils.data.SequentialSampler):
    """sentence-transformers' RandomSampler, minus the shuffle."""

    def __init__(self, data_source, generator=None) -> None:
        super().__init__(data_source)


def _setfit_body(model_dir, frame, tmp_path, monkeypatch) -> tuple[dict, list[dict]]:
    """setfit's trained encoder weights and the pairs it trained on, in order."""
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
    _no_dropout(model.model_body)
    args = TrainingArguments(output_dir=str(tmp_path), seed=0, report_to="none",
                             save_strategy="no", show_progress_bar=False)  # fmt: skip
    data = datasets.Dataset.from_pandas(frame[["text", "label"]])
    Trainer(model=model, args=args, train_dataset=data).train()
    return model.model_body[0].auto_model.state_dict(), pairs


def _tunelab_body(model_dir, frame, setfit_pairs: list[dict], monkeypatch) -> dict:
    """The pair phase on the same pairs in the same order, from the same weights."""
    setup = tiny_setup(model_dir, strategy_config("contrastive"), n_per_class=4)
    position = {text: i for i, text in enumerate(frame["text"])}  # a repeated text: same tokens
    pairs = contrastive_phase.Pairs(
        first=np.array([position[p["sentence_1"]] for p in setfit_pairs]),
        second=np.array([position[p["sentence_2"]] for p in setfit_pairs]),
        target=np.array([p["label"] for p in setfit_pairs], dtype=np.float32),
        distinct_positive=0,
        distinct_negative=0,
    )
    monkeypatch.setattr(
        contrastive_phase, "shuffled_batches",
        lambda n, size, rng: [list(range(i, min(i + size, n))) for i in range(0, n, size)],
    )  # fmt: skip
    _no_dropout(setup.model)
    params = [p for group in setup.groups[:-1] for p in group.params]
    for param in params:
        param.requires_grad_(True)
    settings = contrastive_phase.PairTraining(seed=0)  # the defaults: setfit's
    contrastive_phase.train_on_pairs(
        setup.model, params, pooled_embedding, setup.data, pairs, settings, torch.device("cpu")
    )
    return setup.model.backbone.state_dict()


def test_pair_phase_ends_at_setfits_weights(tiny_model_dir, tmp_path, monkeypatch):
    frame = make_texts(4)  # the texts tiny_setup(n_per_class=4) tokenizes, in its order
    setfit_state, setfit_pairs = _setfit_body(tiny_model_dir, frame, tmp_path, monkeypatch)
    tunelab_state = _tunelab_body(tiny_model_dir, frame, setfit_pairs, monkeypatch)
    start = load_backbone(tiny_model_dir).state_dict()
    # 12 texts: 78 pairs with self-pairs, 30 positive, 48 negative: 96 pairs, 6 steps
    assert len(setfit_pairs) == 96
    names = [n for n in tunelab_state if torch.is_floating_point(tunelab_state[n])]
    assert names and set(names) <= set(setfit_state)

    def norm(pairs) -> float:
        return float(torch.sqrt(sum(((a.float() - b.float()) ** 2).sum() for a, b in pairs)))

    moved = norm((setfit_state[n], start[n]) for n in names)
    apart = norm((tunelab_state[n], setfit_state[n]) for n in names)
    assert moved > 1e-3  # both trained
    assert apart < 1e-3 * moved

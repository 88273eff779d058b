"""The contrastive phase: pairs are balanced, seeded and exhaustive; the loop trains the
parameters it is given, and only those, towards the pairs' targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.conftest import tiny_setup
from tunelab.contrastive_phase import (
    MAX_EXAMPLES,
    PairResult,
    PairTraining,
    _pair_loss,
    contrastive_pairs,
    train_on_pairs,
)
from tunelab.errors import ConfigError
from tunelab.strategies import strategy_config
from tunelab.tasks.text.representation import pooled_embedding

LABELS = [0, 0, 0, 1, 1, 2, 2, 2]  # 3 + 1 + 3 = 7 positive pairs of 28, + 8 self-pairs


def _pair_set(pairs, target: float) -> set[tuple[int, int]]:
    rows = pairs.target == target
    return set(zip(pairs.first[rows].tolist(), pairs.second[rows].tolist(), strict=True))


def test_default_pairs_draw_every_distinct_pair_and_balance_by_repeating_positives():
    pairs = contrastive_pairs(LABELS, seed=0)
    assert (pairs.distinct_positive, pairs.distinct_negative) == (15, 21)
    assert len(pairs) == 42 and pairs.positive == 21  # oversampling: 21 of each kind
    labels = np.asarray(LABELS)
    same = labels[pairs.first] == labels[pairs.second]
    assert np.array_equal(same, pairs.target == 1.0)
    assert len(_pair_set(pairs, 1.0)) == 15 and len(_pair_set(pairs, 0.0)) == 21
    # combinations with replacement, as setfit: every example also pairs with itself
    assert {i for i, j in _pair_set(pairs, 1.0) if i == j} == set(range(len(LABELS)))


def test_num_iterations_gives_that_many_pairs_of_each_kind_per_example():
    pairs = contrastive_pairs(LABELS, seed=0, num_iterations=3)
    assert len(pairs) == 2 * 3 * len(LABELS)
    assert pairs.positive == 3 * len(LABELS)


def test_pairs_are_seeded():
    same = contrastive_pairs(LABELS, seed=5), contrastive_pairs(LABELS, seed=5)
    other = contrastive_pairs(LABELS, seed=6)
    assert np.array_equal(same[0].first, same[1].first)
    assert np.array_equal(same[0].second, same[1].second)
    assert not np.array_equal(same[0].first, other.first)


def test_max_pairs_caps_the_distinct_pairs_of_each_kind():
    pairs = contrastive_pairs(LABELS, seed=0, max_pairs=8)
    assert (pairs.distinct_positive, pairs.distinct_negative) == (4, 4)
    assert len(pairs) == 8


def test_one_class_is_refused_for_want_of_negative_pairs():
    with pytest.raises(ConfigError, match="at least two classes"):
        contrastive_pairs([1, 1, 1], seed=0)


def test_one_example_per_class_trains_on_self_pairs_alone():
    pairs = contrastive_pairs([0, 1, 2], seed=0)
    positives = _pair_set(pairs, 1.0)
    assert positives == {(0, 0), (1, 1), (2, 2)} and pairs.distinct_negative == 3


def test_more_examples_than_the_phase_is_for_are_refused_before_pairing():
    with pytest.raises(ConfigError, match="data.train_per_class"):
        contrastive_pairs([0, 1] * (MAX_EXAMPLES // 2 + 1), seed=0)


def test_total_steps_cover_every_pair_every_epoch_up_to_max_steps():
    assert PairTraining(batch_size=16, epochs=2).total_steps(40) == 6
    assert PairTraining(batch_size=16, epochs=2, max_steps=4).total_steps(40) == 4


def test_loss_curve_is_means_over_spans():
    result = PairResult(steps=4, losses=[4.0, 2.0, 1.0, 1.0])
    assert result.curve(points=2) == [3.0, 1.0]


def test_training_on_pairs_moves_only_the_given_parameters_and_lowers_the_loss(
    tiny_model_dir,
):
    setup = tiny_setup(tiny_model_dir, strategy_config("contrastive"), n_per_class=6)
    body = [p for group in setup.groups[:-1] for p in group.params]
    for param in body:
        param.requires_grad_(True)
    before = {name: p.detach().clone() for name, p in setup.model.named_parameters()}
    pairs = contrastive_pairs(setup.data.labels.tolist(), seed=0, num_iterations=2)
    settings = PairTraining(lr=1e-3, epochs=3, batch_size=16, warmup_ratio=0.0, seed=0)
    torch.manual_seed(0)
    shown = []
    result = train_on_pairs(
        setup.model, body, pooled_embedding, setup.data, pairs, settings, torch.device("cpu"),
        on_step=lambda done, total, loss: shown.append((done, total, loss)),
    )  # fmt: skip
    # 2 * 2 * 18 = 72 pairs, 5 steps of 16 an epoch
    assert result.steps == settings.total_steps(len(pairs)) == 3 * 5
    assert shown == [(i + 1, 15, loss) for i, loss in enumerate(result.losses)]  # progress
    changed = {n for n, p in setup.model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all(name.startswith("backbone.") for name in changed)
    assert not any(name.startswith("head.") for name in changed)
    first, last = np.mean(result.losses[:5]), np.mean(result.losses[-5:])
    assert last < first


def test_a_step_embeds_each_side_in_its_own_pass_and_scores_every_pair(tiny_model_dir):
    setup = tiny_setup(tiny_model_dir, strategy_config("contrastive"), n_per_class=6)
    setup.model.eval()  # no dropout: the two computations must agree
    pairs = contrastive_pairs(setup.data.labels.tolist(), seed=0, num_iterations=2)
    rows, sizes = list(range(16)), []

    def embed(model, batch):
        sizes.append(len(batch["input_ids"]))
        return pooled_embedding(model, batch)

    loss = _pair_loss(setup.model, embed, setup.data, pairs, rows, torch.device("cpu"))
    sides = []
    for side in (pairs.first[rows], pairs.second[rows]):
        batch = setup.data.collate(side.tolist())
        batch.pop("labels")
        sides.append(pooled_embedding(setup.model, batch))
    similarity = torch.nn.functional.cosine_similarity(*sides)
    expected = ((similarity - torch.as_tensor(pairs.target[rows])) ** 2).mean()
    assert torch.allclose(loss, expected, atol=1e-5)
    assert sizes == [len(rows), len(rows)]


def test_a_self_pair_has_a_gradient_under_dropout(tiny_model_dir):
    """Two passes, two dropout masks: a self-pair's similarity is below 1 in training
    (SimCSE's positive), and exactly 1 without dropout."""
    setup = tiny_setup(tiny_model_dir, strategy_config("contrastive"), n_per_class=6)
    pairs = contrastive_pairs(setup.data.labels.tolist(), seed=0)
    rows = [int(np.flatnonzero(pairs.first == pairs.second)[0])]
    cpu = torch.device("cpu")
    setup.model.eval()
    assert float(_pair_loss(setup.model, pooled_embedding, setup.data, pairs, rows, cpu)) < 1e-10
    setup.model.train()
    torch.manual_seed(0)
    assert float(_pair_loss(setup.model, pooled_embedding, setup.data, pairs, rows, cpu)) > 1e-8


def test_weight_decay_reaches_matrices_only(tiny_model_dir):
    """setfit's l2_weight goes to HF Trainer, which leaves biases and LayerNorm undecayed."""
    from tunelab.contrastive_phase import _decay_groups

    setup = tiny_setup(tiny_model_dir, strategy_config("contrastive"), n_per_class=6)
    body = [p for group in setup.groups[:-1] for p in group.params]
    decayed, plain = _decay_groups(setup.model, body, 0.01)
    assert decayed["weight_decay"] == 0.01 and plain["weight_decay"] == 0.0
    assert decayed["params"] and all(p.ndim == 2 for p in decayed["params"])
    assert plain["params"] and all(p.ndim == 1 for p in plain["params"])
    assert len(decayed["params"]) + len(plain["params"]) == len(body)


def test_the_first_warmup_step_runs_at_lr_zero_as_under_hf_trainer(tiny_model_dir):
    """setfit's body trains under HF Trainer, whose warmup starts at lr 0: one step of a
    warmed-up phase moves Adam's moments, not the weights."""
    setup = tiny_setup(tiny_model_dir, strategy_config("contrastive"), n_per_class=6)
    body = [p for group in setup.groups[:-1] for p in group.params]
    for param in body:
        param.requires_grad_(True)
    before = [p.detach().clone() for p in body]
    pairs = contrastive_pairs(setup.data.labels.tolist(), seed=0, num_iterations=2)
    settings = PairTraining(lr=1e-3, warmup_ratio=0.1, max_steps=1, seed=0)
    result = train_on_pairs(
        setup.model, body, pooled_embedding, setup.data, pairs, settings, torch.device("cpu")
    )
    assert result.steps == 1
    assert all(torch.equal(p, b) for p, b in zip(body, before, strict=True))

"""Frozen-prefix cache: the cached path trains exactly like recomputing the frozen layers.

Frozen groups run in eval mode, so the cached run and the recomputing run draw the same
dropout masks in the trained blocks: losses agree to float rounding, dropout included.
"""

from __future__ import annotations

import pytest
import torch
from rich.console import Console

from tests.conftest import classification_trainer, step_config, tiny_setup
from tunelab import prefix_cache
from tunelab.batching import TokenBatches
from tunelab.config import TrainConfig, load_config
from tunelab.errors import ConfigError
from tunelab.prefix_cache import (
    FrozenPrefixCache,
    PrefixBatches,
    compute_prefix_states,
    frozen_prefix_groups,
    prefix_cache_callbacks,
)
from tunelab.prefix_check import CHECK_ATOL, check_prefix
from tunelab.strategies import create_strategy, strategy_config
from tunelab.trainer import Trainer

LOSS_TOL = 1e-5


def _model(tiny_model_dir, strategy_cfg):
    setup = tiny_setup(tiny_model_dir, strategy_cfg, n_per_class=12)
    return setup.model, setup.groups, setup.plans, setup.strategy, setup.data, setup.labels


def _one_step_trainer(model, groups, plans, data, labels, cache) -> Trainer:
    """A trainer driven by hand (``cache.sync``), with the cache as its only callback."""
    cfg = TrainConfig(max_steps=1, device="cpu")
    return classification_trainer(model, groups, plans, cfg, data, labels, [cache])


def _train(tiny_model_dir, strategy_cfg, cached: bool, epochs: int = 2, **train):
    model, groups, plans, strategy, data, labels = _model(tiny_model_dir, strategy_cfg)
    callbacks = strategy.callbacks(groups, plans)
    cache = FrozenPrefixCache(model, groups, data, data, batch_size=16) if cached else None
    cfg = step_config(epochs=epochs, **train)
    trainer = classification_trainer(
        model, groups, plans, cfg, data, labels, [*callbacks, *([cache] if cache else [])]
    )
    trainer.fit()
    return trainer, model, groups, cache


def _losses(trainer) -> list[float]:
    return [row[key] for row in trainer.state.history for key in ("train_loss", "val_loss")]


@pytest.mark.parametrize("start_block", [0, 1, 2])
def test_forward_from_matches_the_full_forward(tiny_model_dir, start_block):
    model, _, _, _, data, _ = _model(tiny_model_dir, strategy_config("full"))
    model.eval()
    batch = data.collate(list(range(6)))
    batch.pop("labels")
    batch["token_type_ids"][:, 3:] = 1  # segment B: the embeddings path must see it
    with torch.no_grad():
        hidden = model.hidden_before(start_block, **batch)
        resumed = model.forward_from(hidden, batch["attention_mask"], start_block)
        expected = model(**batch)
    assert torch.allclose(resumed, expected, atol=1e-6)


def test_prefix_batches_keep_the_token_batches_plan(tiny_model_dir):
    model, _, _, _, data, _ = _model(tiny_model_dir, strategy_config("top_k", k=1))
    states = compute_prefix_states(model, data, start_block=1, batch_size=5)
    cached = PrefixBatches(states, data.labels)
    assert cached.lengths == data.lengths
    assert cached.epoch_batches(8, 0, 3, True) == data.epoch_batches(8, 0, 3, True)
    assert cached.eval_batches(8) == data.eval_batches(8)
    batch = cached.collate([0, 5, 9])
    width = max(data.lengths[i] for i in (0, 5, 9))
    assert batch["hidden_states"].shape == (3, width, 32)
    assert batch["attention_mask"].sum(1).tolist() == [data.lengths[i] for i in (0, 5, 9)]
    assert batch["start_block"] == 1 and torch.equal(batch["labels"], data.labels[[0, 5, 9]])


def test_top_k_cached_losses_match_recomputing(tiny_model_dir):
    cfg = strategy_config("top_k", k=1)
    recomputed, model_a, _, _ = _train(tiny_model_dir, cfg, cached=False)
    cached, model_b, _, cache = _train(tiny_model_dir, cfg, cached=True)
    assert isinstance(cached.train_data, PrefixBatches) and cache.cut == 2
    assert _losses(cached) == pytest.approx(_losses(recomputed), abs=LOSS_TOL)
    # Compare what the models compute: a key bias gets a ~0 gradient (softmax ignores it)
    # that Adam rescales to lr-sized noise, so raw weights may differ where it is moot.
    batch = cached.val_data.collate(list(range(len(cached.val_data))))
    tokens = recomputed.val_data.collate(list(range(len(recomputed.val_data))))
    with torch.no_grad():
        model_a.eval(), model_b.eval()
        tokens.pop("labels"), batch.pop("labels")
        assert torch.allclose(model_b(**batch), model_a(**tokens), atol=1e-4)


def test_gradual_unfreeze_recomputes_at_the_new_cut(tiny_model_dir):
    """Each phase moves the cut down one group; the cache follows, then full tokens."""
    cfg = strategy_config("gradual_unfreeze")
    recomputed, _, _, _ = _train(tiny_model_dir, cfg, cached=False, epochs=4)
    cached, _, groups, cache = _train(tiny_model_dir, cfg, cached=True, epochs=4)
    assert _losses(cached) == pytest.approx(_losses(recomputed), abs=LOSS_TOL)
    assert frozen_prefix_groups(groups) == 0 and cache.cut == 0
    assert isinstance(cached.train_data, TokenBatches)  # all trainable: no prefix left


def test_moving_the_cut_invalidates_the_cache(tiny_model_dir):
    model, groups, plans, strategy, data, labels = _model(
        tiny_model_dir, strategy_config("gradual_unfreeze")
    )
    cache = FrozenPrefixCache(model, groups, data, data, batch_size=16)
    trainer = _one_step_trainer(model, groups, plans, data, labels, cache)
    cache.sync(trainer)
    assert trainer.train_data.states.start_block == 2  # head only: the backbone's output
    groups[2].set_trainable(True)  # unfreeze layer.1 as phase 1 would
    trainer.on_trainable_changed()
    states = trainer.train_data.states
    assert cache.cut == 2 and states.start_block == 1
    with torch.no_grad():
        batch = data.collate([4])
        batch.pop("labels")
        model.eval()
        expected = model.hidden_before(1, **batch)[0]
    assert torch.allclose(states.example(4), expected, atol=1e-6)


@pytest.mark.parametrize(
    ("cfg", "trained"),
    [
        (strategy_config("top_k", k=1), {"layer.1", "head"}),
        (strategy_config("gradual_unfreeze", unfreeze_every_steps=1), {"layer.1", "head"}),
    ],
)
def test_only_planned_params_change_with_the_cache(tiny_model_dir, cfg, trained):
    model, groups, plans, strategy, data, labels = _model(tiny_model_dir, cfg)
    cache = FrozenPrefixCache(model, groups, data, data, batch_size=16)
    train = step_config(max_steps=2)
    trainer = classification_trainer(
        model, groups, plans, train, data, labels, [*strategy.callbacks(groups, plans), cache]
    )
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainer.fit()
    changed = {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}
    ids = {id(p) for g in groups if g.name in trained for p in g.params}
    assert changed == {n for n, p in model.named_parameters() if id(p) in ids}


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_storage_stays_close(tiny_model_dir, dtype):
    model, _, _, _, data, _ = _model(tiny_model_dir, strategy_config("top_k", k=1))
    exact = compute_prefix_states(model, data, 1, 16)
    half = compute_prefix_states(model, data, 1, 16, dtype=prefix_cache.DTYPES[dtype])
    assert half.packed.dtype == prefix_cache.DTYPES[dtype]
    assert half.nbytes * 2 == exact.nbytes
    assert torch.allclose(half.packed.float(), exact.packed, atol=2e-2, rtol=1e-2)


def test_large_caches_go_to_a_memory_mapped_file(tiny_model_dir, tmp_path, monkeypatch):
    model, _, _, _, data, _ = _model(tiny_model_dir, strategy_config("top_k", k=1))
    in_memory = compute_prefix_states(model, data, 1, 16)
    monkeypatch.setattr(prefix_cache, "PREFIX_CACHE_MEMORY_BYTES", 0)
    on_disk = compute_prefix_states(model, data, 1, 16, spill_dir=tmp_path)
    assert on_disk.on_disk and not in_memory.on_disk
    assert torch.equal(on_disk.packed, in_memory.packed)
    assert not list(tmp_path.iterdir())  # unlinked once mapped (POSIX)


def test_nondeterministic_frozen_part_falls_back(tiny_model_dir):
    model, groups, plans, _, data, labels = _model(tiny_model_dir, strategy_config("top_k", k=1))
    groups[0].modules = []  # set_train_mode would leave the embeddings' dropout on
    console = Console(record=True, width=200)
    cache = FrozenPrefixCache(model, groups, data, data, console=console)
    trainer = _one_step_trainer(model, groups, plans, data, labels, cache)
    cache.sync(trainer)
    assert isinstance(trainer.train_data, TokenBatches)
    assert "not deterministic" in console.export_text()
    strict = FrozenPrefixCache(model, groups, data, data, strict=True)
    with pytest.raises(ConfigError, match="prefix_cache=on"):
        strict.sync(trainer)


def test_auto_skips_what_it_cannot_cache(tiny_model_dir, monkeypatch):
    model, groups, plans, _, data, _ = _model(tiny_model_dir, strategy_config("top_k", k=1))
    sources = {"train": data, "validation": data}
    console = Console(record=True, width=200)
    auto = load_config(None, ["strategy.name=top_k"])
    assert len(prefix_cache_callbacks(auto, model, plans, groups, sources, console)) == 1
    off = load_config(None, ["strategy.name=top_k", "strategy.prefix_cache=off"])
    assert prefix_cache_callbacks(off, model, plans, groups, sources, console) == []
    with pytest.raises(ConfigError, match="not a key of strategy 'full'"):
        load_config(None, ["strategy.name=full", "strategy.prefix_cache=on"])
    # top_k over every backbone group freezes nothing below it
    full = load_config(None, ["strategy.name=top_k", "strategy.k=3", "strategy.prefix_cache=on"])
    full_plans = create_strategy(full.strategy).plan(groups)
    with pytest.raises(ConfigError, match="freezes no bottom"):
        prefix_cache_callbacks(full, model, full_plans, groups, sources, console)
    monkeypatch.setattr(type(model), "resumable", property(lambda self: False))
    assert prefix_cache_callbacks(auto, model, plans, groups, sources, console) == []
    assert "not a supported encoder" in console.export_text()


def test_fine_tune_uses_the_cache_and_saves_the_full_model(tiny_config, tmp_path):
    import tunelab

    console = Console(record=True, width=200)
    result = tunelab.fine_tune(tiny_config, tmp_path / "run", console=console)
    assert "frozen prefix cached" in console.export_text()
    off = dict(tiny_config, strategy={**tiny_config["strategy"], "prefix_cache": "off"})
    baseline = tunelab.fine_tune(off, tmp_path / "off")
    assert [r["train_loss"] for r in result.history] == pytest.approx(
        [r["train_loss"] for r in baseline.history], abs=LOSS_TOL
    )
    assert result.metrics["test"]["accuracy"] == baseline.metrics["test"]["accuracy"]
    predictor = tunelab.load(result.run_dir)  # the saved model is the whole classifier
    assert predictor.predict("pizza and pasta")[0].label in {"food", "sport", "tech"}


def test_top_k_under_bf16_keeps_the_cache_and_matches_recomputing(tiny_model_dir):
    """Under bf16 autocast the cache is built and checked at the training precision: it
    stays on, and training gives the recomputing run's losses within autocast's tolerance."""
    cfg = strategy_config("top_k", k=1)
    recomputed, _, _, _ = _train(tiny_model_dir, cfg, cached=False, mixed_precision="bf16")
    cached, _, _, cache = _train(tiny_model_dir, cfg, cached=True, mixed_precision="bf16")
    assert recomputed.precision["compute"] == "bf16" == cached.precision["compute"]
    assert cache.disabled_reason is None and isinstance(cached.train_data, PrefixBatches)
    assert cache.check.autocast_gap > CHECK_ATOL  # a fixed fp32 tolerance would refuse
    assert _losses(cached) == pytest.approx(_losses(recomputed), abs=cache.check.tolerance)


def _bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_the_autocast_tolerance_is_what_autocast_changes(tiny_model_dir, monkeypatch):
    model, groups, _, _, data, _ = _model(tiny_model_dir, strategy_config("top_k", k=1))
    fp32 = check_prefix(model, groups, data, 1, "cpu")
    assert fp32.reason is None and fp32.autocast_gap == 0 and fp32.tolerance == CHECK_ATOL
    bf16 = check_prefix(model, groups, data, 1, "cpu", _bf16_autocast)
    assert bf16.reason is None and bf16.gap <= bf16.tolerance == bf16.autocast_gap > CHECK_ATOL
    # A resume error larger than autocast's own change is still refused under autocast.
    resume = type(model).forward_from
    shift = 3 * bf16.autocast_gap
    monkeypatch.setattr(
        type(model), "forward_from", lambda self, *args: resume(self, *args) + shift
    )
    broken = check_prefix(model, groups, data, 1, "cpu", _bf16_autocast)
    assert broken.reason.startswith("resuming at block 1 changes the logits by")
    assert "more than autocast itself does" in broken.reason


def test_fine_tune_under_bf16_records_the_measured_gaps(tiny_config, tmp_path):
    import json

    import tunelab

    tiny_config["train"].update(epochs=1, mixed_precision="bf16")
    console = Console(record=True, width=300)
    run = tunelab.fine_tune(tiny_config, tmp_path / "run", console=console).run_dir
    assert "autocast moves them" in console.export_text()
    metrics = json.loads((run / "metrics.json").read_text())
    decision = metrics["decisions"]["strategy.prefix_cache"]
    assert metrics["precision"]["compute"] == "bf16" and decision["value"] == "on"
    assert decision["gap"] <= decision["tolerance"] == decision["autocast_gap"] > CHECK_ATOL

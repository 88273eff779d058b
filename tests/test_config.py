"""Config validation: sections per task and strategy, metrics, and every YAML in configs/."""

from __future__ import annotations

from pathlib import Path

import pytest

from tunelab.config import Config, load_config
from tunelab.errors import ConfigError

CONFIGS = sorted((Path(__file__).parents[1] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates_and_names_its_command(path):
    cfg = load_config(path)
    assert isinstance(cfg, Config)
    assert "tunelab " in path.read_text().split("\n\n")[0], "header must show the launch command"


def test_unknown_strategy_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="strategy.name"):
        load_config(None, ["strategy.name=magic"])


def test_each_strategy_reads_its_own_keys():
    assert load_config(None, ["strategy.name=top_k", "strategy.k=3"]).strategy.k == 3
    gradual = load_config(
        None, ["strategy.name=gradual_unfreeze", "strategy.unfreeze_every_steps=5"]
    )
    assert gradual.strategy.unfreeze_every_steps == 5
    image = load_config(None, ["task=image_classification", "data.augment.hflip=0.2"])
    assert image.data.augment.hflip == 0.2 and image.model.name == "efficientnet_lite0"


def test_early_stopping_metric_is_checked_at_load_and_defaults_to_the_tasks():
    cfg = load_config(None)
    assert (cfg.train.early_stopping.metric, cfg.train.early_stopping.mode) == ("f1_macro", "max")
    loss = load_config(None, ["train.early_stopping.metric=loss"]).train.early_stopping
    assert loss.mode == "min"
    with pytest.raises(ConfigError, match="'perplexity' is not a metric of task"):
        load_config(None, ["train.early_stopping.metric=perplexity"])


def test_task_names_come_from_the_registry():
    from tunelab.tasks import task_names

    with pytest.raises(ConfigError, match=f"one of {', '.join(task_names())}$"):
        load_config(None, ["task=speech"])


def test_switching_strategy_keeps_only_what_the_new_one_reads():
    cfg = load_config(None, ["strategy.name=top_k", "strategy.k=1", "strategy.cache_dir=/tmp/c"])
    full = cfg.with_strategy("full")
    assert full.strategy.name == "full" and full.strategy.cache_dir == "/tmp/c"
    assert "k" not in full.strategy.model_dump()


def test_a_derived_run_leaves_unset_keys_to_the_strategy_it_runs():
    """compare and ``auto`` derive runs with ``with_strategy``: a key the user never set
    must stay unset there, or the strategy's model defaults never apply (``auto``
    picking contrastive trained setfit's head on unnormalised features)."""
    from tunelab.strategies import with_model_defaults

    derived = load_config(None, ["data.train=a.csv"]).with_strategy("contrastive")
    assert derived.model.head.model_fields_set == set()
    assert "max_length" not in derived.model.model_fields_set
    assert with_model_defaults(derived).model.head.normalize is True
    given = load_config(None, ["model.head.normalize=false"]).with_strategy("contrastive")
    assert with_model_defaults(given).model.head.normalize is False, "what was given stays"
    scratch = load_config(None, ["train.lr=0.001"]).with_strategy("full", pretrained=False)
    assert scratch.train.lr == 0.001 and scratch.model.pretrained is False


def test_a_key_set_by_assignment_is_given_even_in_a_section_never_given():
    """compare sets ``train.seed`` and the learning curve ``data.train_per_class`` on a
    copy of the user's config; a run derived from that copy must keep both."""
    cfg = load_config(None)
    cfg.train.seed, cfg.data.train_per_class = 7, 8
    derived = cfg.with_strategy("top_k")
    assert (derived.train.seed, derived.data.train_per_class) == (7, 8)
    assert "lr" not in derived.train.model_fields_set


def test_docs_list_every_key_of_every_task_and_strategy():
    from pydantic import BaseModel

    from tunelab.strategies import strategy_config_class, strategy_names
    from tunelab.tasks import all_tasks

    def keys(cls, prefix):
        for name, field in cls.model_fields.items():
            sub = field.annotation
            if isinstance(sub, type) and issubclass(sub, BaseModel):
                yield from keys(sub, f"{prefix}{name}.")
            else:
                yield f"{prefix}{name}"

    doc = (Path(__file__).parents[1] / "docs" / "config.md").read_text()
    sections = []
    for task in all_tasks():
        own = task.sections()
        sections += [(own.model, "model."), (own.data, "data."), (own.train, "train.")]
        sections += [(cls, f"{name}.") for name, cls in own.extra.items()]
    sections += [(strategy_config_class(n), "strategy.") for n in strategy_names()]
    missing = [k for cls, prefix in sections for k in keys(cls, prefix) if f"`{k}`" not in doc]
    assert not missing, f"docs/config.md lacks {missing[:5]}"

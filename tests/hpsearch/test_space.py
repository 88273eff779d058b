"""The search space: every bad key is one clear error, values and ``when`` conditions apply."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from optuna.trial import FixedTrial
from typer.testing import CliRunner

from tunelab.cli import app
from tunelab.config import load_config, validate_config
from tunelab.errors import ConfigError
from tunelab.hpsearch.space import apply_params, baseline_params, default_space, parse_space

from .conftest import search_config, write_config

runner = CliRunner()


@pytest.mark.parametrize(
    ("space", "fragment"),
    [
        ({"train.lr_rate": {"uniform": [0.1, 0.2]}}, "unknown config key 'train.lr_rate'"),
        ({"train.lr": {"log_uniform": [1e-3, 1e-5]}}, "inverted"),
        ({"train.batch_size": {"choice": []}}, "non-empty list"),
        ({"train.lr": {"log_uniform": [0.0, 1e-3]}}, "low > 0"),
        ({"train.epochs": {"int": [1.5, 4]}}, "must be integers"),
        ({"model.head": {"choice": [1, 2]}}, "is a section"),
        ({"train.lr": {"loguniform": [1e-5, 1e-3]}}, "unknown option 'loguniform'"),
        ({"model.head.dropout": {"uniform": [0.0, 1.0]}}, "model.head.dropout = 1.0"),
        ({"strategy.name": {"choice": ["top_k", "magic"]}}, "'magic'"),
        ({"strategy.k": {"int": [1, 3], "when": {"strategy.nme": "top_k"}}}, "strategy.nme"),
        ({"search.trials": {"int": [1, 3]}}, "its own settings"),
    ],
    ids=[
        "unknown-key",
        "inverted",
        "empty-choice",
        "log-zero",
        "int-float",
        "section",
        "unknown-kind",
        "config-rejects",
        "bad-choice",
        "bad-when",
        "search-key",
    ],
)
def test_bad_space_is_one_clear_error(space, fragment):
    with pytest.raises(ConfigError, match="search.space") as err:
        parse_space(validate_config({"search": {"space": space}}))
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_bad_space_on_the_cli_exits_2_and_writes_nothing(tiny_config, tmp_path):
    config = search_config(tiny_config, space={"train.lr": {"log_uniform": [1e-3, 1e-5]}})
    out = tmp_path / "search"
    result = runner.invoke(app, ["search", str(write_config(tmp_path, config)), "-o", str(out)])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.startswith("error:") and "inverted" in message
    assert len(message.splitlines()) == 1 and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "path",
    [
        p
        for p in sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
        if "search" in yaml.safe_load(p.read_text())
    ],
    ids=lambda p: p.name,
)
def test_shipped_search_configs_have_valid_spaces_and_a_baseline(path):
    cfg = load_config(path)
    params = parse_space(cfg)
    fixed, why = baseline_params(cfg, params)
    assert fixed is not None, why


def test_default_space_follows_the_strategy():
    assert "train.lr" not in default_space("feature_extraction")
    assert "strategy.lora.r" in default_space("lora")


@pytest.mark.parametrize(
    "strategy",
    ["feature_extraction", "top_k", "full", "gradual_unfreeze", "discriminative_lr", "lora"],
)
def test_default_space_varies_only_keys_the_strategy_reads(strategy):
    base = load_config(None, [f"strategy.name={strategy}"])
    params = parse_space(base)  # every key is checked against this strategy's own config
    keys = {p.key for p in params}
    assert ("strategy.lr_decay" in keys) == (strategy == "discriminative_lr")
    assert ("strategy.k" in keys) == (strategy == "top_k")
    params = parse_space(load_config(None))  # empty space: the default one, valid for the config
    assert {p.key for p in params} >= {"train.lr", "train.head_lr", "train.batch_size"}


def test_values_conditions_and_nested_form():
    cfg = validate_config(
        {
            "strategy": {"name": "top_k"},  # the baseline trial: the config's own values
            "search": {
                "space": {
                    "strategy": {
                        "name": {"choice": ["feature_extraction", "top_k"]},
                        "k": {"int": [1, 3], "when": {"strategy.name": "top_k"}},
                    },
                    "model.head.hidden_sizes": {"choice": [[], [64]]},
                }
            },
        }
    )
    params = parse_space(cfg)
    assert [p.key for p in params][0] == "strategy.name", "a when-target is drawn first"
    fe = apply_params(
        cfg,
        params,
        FixedTrial({"strategy.name": "feature_extraction", "model.head.hidden_sizes": "[64]"}),
        "t",
    )
    assert fe.strategy.name == "feature_extraction" and fe.model.head.hidden_sizes == [64]
    top = apply_params(
        cfg,
        params,
        FixedTrial({"strategy.name": "top_k", "strategy.k": 3, "model.head.hidden_sizes": "[]"}),
        "t",
    )
    assert top.strategy.k == 3 and top.search == load_config(None).search, (
        "trials run without search"
    )
    fixed, _ = baseline_params(cfg, params)
    assert fixed == {"strategy.name": "top_k", "strategy.k": 2, "model.head.hidden_sizes": "[]"}


def test_a_trial_leaves_unset_keys_to_the_strategy_it_draws():
    """A trial that draws ``contrastive`` gets its model defaults (setfit's normalised
    head), as ``tunelab run`` naming it would; a key the base config gave is kept."""
    from tunelab.strategies import with_model_defaults

    space = {"strategy.name": {"choice": ["feature_extraction", "contrastive"]}}
    cfg = validate_config({"train": {"lr": 1e-4}, "search": {"space": space}})
    trial = apply_params(cfg, parse_space(cfg), FixedTrial({"strategy.name": "contrastive"}), "t")
    assert with_model_defaults(trial).model.head.normalize is True
    assert trial.train.lr == 1e-4 and "lr" in trial.train.model_fields_set
    assert "batch_size" not in trial.train.model_fields_set


def test_the_search_base_carries_only_the_keys_it_was_given():
    """``tunelab search`` resolves its options into the base every trial starts from;
    a default written into it would count as given and mask the drawn strategy's."""
    from tunelab.hpsearch.loop import _resolve

    space = {"strategy.name": {"choice": ["feature_extraction", "contrastive"]}}
    base = _resolve({"train": {"lr": 1e-4}, "search": {"space": space}}, trials=2)
    assert base.model.head.model_fields_set == set() and "batch_size" not in base.given()["train"]
    assert base.given()["train"] == {"lr": 1e-4} and base.search.trials == 2

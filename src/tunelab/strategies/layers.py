"""Train exactly the layer groups you name, each at its own learning-rate scale.

``strategy.train`` lists the groups that train; everything else is frozen. An entry is
a group's name (``embeddings``, ``layer.4``, ``head``), a range of numbered groups
(``layer.2-5``, both ends included) or a glob (``layer.*``, ``stage.[23]``), over the
groups ``tunelab layers MODEL`` prints for any task (a CNN has ``stem`` and
``stage.N``, a language model its decoder blocks). ``strategy.lr_scales`` multiplies
the LR of the groups its keys (same syntax) select, later keys winning:
``{"layer.*": 0.5, head: 1.0}``. The head trains at ``train.head_lr`` times its scale,
the other groups at ``train.lr`` times theirs.
"""

from __future__ import annotations

import fnmatch
import re
from typing import Literal

from pydantic import Field

from tunelab.errors import ConfigError
from tunelab.layers import LayerGroup
from tunelab.strategies.base import GroupPlan, Strategy, register_strategy
from tunelab.strategies.simple import FrozenPrefixConfig

RANGE = re.compile(r"^(?P<prefix>.+\.)(?P<first>\d+)-(?P<last>\d+)$")
SYNTAX = "a group name, a range like layer.2-5 or a glob like layer.*"


class LayersConfig(FrozenPrefixConfig):
    """``train``: the groups that train (names, ranges, globs); ``lr_scales``: LR
    multipliers by the same selectors. A frozen bottom is cached as for ``top_k``."""

    name: Literal["layers"] = "layers"
    train: list[str] = Field(min_length=1)
    lr_scales: dict[str, float] = Field(default_factory=dict)


def select(selector: str, names: list[str], key: str) -> list[str]:
    """The group names ``selector`` picks, in model order.

    Raises:
        ConfigError: it picks none, or a range runs past the model's groups.
    """
    if selector in names:
        return [selector]
    found = RANGE.match(selector)
    if found:
        prefix, first, last = found["prefix"], int(found["first"]), int(found["last"])
        wanted = [f"{prefix}{i}" for i in range(first, last + 1)]
        missing = [n for n in wanted if n not in names]
        if wanted and not missing:
            return wanted
    elif any(ch in selector for ch in "*?["):
        matched = [n for n in names if fnmatch.fnmatchcase(n, selector)]
        if matched:
            return matched
    raise ConfigError(
        f"{key}: '{selector}' matches no layer group of this model; its groups are "
        f"{', '.join(names)} (use {SYNTAX})"
    )


@register_strategy
class Layers(Strategy):
    """The named groups train (at their ``lr_scales``); every other group is frozen."""

    name = "layers"
    config_class = LayersConfig

    def plan(self, groups: list[LayerGroup]) -> list[GroupPlan]:
        names = [g.name for g in groups]
        trained = {n for s in self.cfg.train for n in select(s, names, "strategy.train")}
        scales = self._scales(names, trained)
        return [
            GroupPlan("trained", lr_scale=scales.get(n, 1.0))
            if n in trained
            else GroupPlan("frozen")
            for n in names
        ]

    def _scales(self, names: list[str], trained: set[str]) -> dict[str, float]:
        """Group name -> LR multiplier from ``strategy.lr_scales`` (later keys win)."""
        scales: dict[str, float] = {}
        for selector, scale in self.cfg.lr_scales.items():
            key = f"strategy.lr_scales.{selector}"
            if not scale > 0:
                raise ConfigError(f"{key}: {scale} is not a positive LR multiplier")
            chosen = select(selector, names, key)
            frozen = [n for n in chosen if n not in trained]
            if frozen:
                raise ConfigError(
                    f"{key}: scales {', '.join(frozen)}, which strategy.train leaves "
                    "frozen; add it to strategy.train or drop the scale"
                )
            scales.update(dict.fromkeys(chosen, scale))
        return scales

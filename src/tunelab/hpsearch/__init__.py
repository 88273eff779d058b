"""Hyper-parameter search on Optuna: ``search(config)`` and the result it returns.

One module per concept: :mod:`~tunelab.hpsearch.space` (what a search varies),
:mod:`~tunelab.hpsearch.study` (storage, sampler, pruner, one study per search),
:mod:`~tunelab.hpsearch.trials` (one trial in this process),
:mod:`~tunelab.hpsearch.isolation` (one trial per forked worker process),
:mod:`~tunelab.hpsearch.results` (best.yaml, trials.csv, the summary and report) and
:mod:`~tunelab.hpsearch.loop` (``search()``: trials until the budget is spent).
"""

from tunelab.hpsearch.loop import search
from tunelab.hpsearch.results import SearchResult

__all__ = ["SearchResult", "search"]

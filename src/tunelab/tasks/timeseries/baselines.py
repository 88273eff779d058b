"""Classical baselines, from well-kept libraries, measured in the same run on the same
splits, so the comparison shows whether deep fine-tuning beat them.

Classification: MiniRocket / ROCKET features (sktime) with a ridge classifier, the
authors' own recipe. Forecasting: seasonal-naive and mean forecasts, ETS and ARIMA
(statsmodels). Each baseline is recorded in ``metrics.json`` under ``baselines``
(``{name: {"test", "validation", "fit_seconds"}}``), which ``compare`` shows as rows.
Results are memoised per process by a hash of the data, so a comparison's runs fit
each baseline once.
"""

from __future__ import annotations

import hashlib
import time
import warnings
from typing import Any

import numpy as np

from tunelab.metrics import classification_metrics

_MEMO: dict[str, dict[str, Any]] = {}
ROCKET_HINT = "pip install --no-deps sktime==1.2.0 'scikit-base<1.2' numba"


def _key(*parts: Any) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(
            np.ascontiguousarray(part).tobytes()
            if isinstance(part, np.ndarray)
            else repr(part).encode()
        )
    return digest.hexdigest()[:24]


def rocket_transform(kind: str, channels: int, seed: int):
    """sktime's MiniRocket (uni- or multivariate) or ROCKET transformer.

    Raises:
        ImportError: sktime (or numba) is not installed.
    """
    from sktime.transformations.panel.rocket import MiniRocket, MiniRocketMultivariate, Rocket

    if kind == "rocket":
        return Rocket(num_kernels=2000, random_state=seed)
    return (
        MiniRocket(random_state=seed)
        if channels == 1
        else MiniRocketMultivariate(random_state=seed)
    )


def classification_baselines(splits, names: list[str], seed: int) -> dict[str, dict]:
    """``{name: {"test", "validation", "fit_seconds"}}`` for each available baseline;
    one that cannot run (sktime missing) is ``{"skipped": reason}``."""
    out = {}
    for name in names:
        key = _key(name, seed, splits.train.values, splits.test.values, splits.labels)
        if key not in _MEMO:
            _MEMO[key] = _rocket_ridge(name, splits, seed)
        out[name] = _MEMO[key]
    return out


def _rocket_ridge(kind: str, splits, seed: int) -> dict[str, Any]:
    """Random convolutional features + ``RidgeClassifierCV`` over a log grid of alphas."""
    from sklearn.linear_model import RidgeClassifierCV

    try:
        transform = rocket_transform(kind, splits.channels, seed)
    except ImportError:
        return {"skipped": f"sktime not installed ({ROCKET_HINT})"}
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        transform.fit(splits.train.values.astype(np.float64))
        features = {
            name: np.asarray(transform.transform(getattr(splits, name).values.astype(np.float64)))
            for name in ("train", "validation", "test")
        }
    ids = {label: i for i, label in enumerate(splits.labels)}
    truth = {name: [ids[v] for v in getattr(splits, name).labels] for name in features}
    ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(features["train"], truth["train"])
    scores = {
        name: classification_metrics(
            truth[name], ridge.predict(features[name]).tolist(), splits.labels
        )
        for name in ("validation", "test")
    }
    return {
        "test": _scalars(scores["test"]),
        "validation": _scalars(scores["validation"]),
        "fit_seconds": round(time.perf_counter() - started, 2),
        "library": "sktime",
    }


def _scalars(metrics: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, int | float)}

"""Classical baselines, from well-kept libraries, measured in the same run on the same
splits, so the comparison shows whether deep fine-tuning beat them.

Classification: MiniRocket / ROCKET features (sktime) with a ridge classifier, the
authors' own recipe. Forecasting: seasonal-naive and mean forecasts, ETS and ARIMA
(statsmodels), and Fracast-0 zero-shot (PyPI ``fracast``: a pre-trained forecaster
that is not a PatchTST / PatchTSMixer directory, so it is a reference row rather than
a backbone the strategies tune). Anomaly detection's baselines (rolling z-score,
last-value error) are scores, so they live with the model's in :mod:`.anomaly_scores`.
Each baseline is recorded in ``metrics.json`` under ``baselines``
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


# ------------------------------------------------------------------ forecasting
def seasonal_naive(history: np.ndarray, horizon: int, season: int) -> np.ndarray:
    """The last full season repeated (the last value when the history is shorter)."""
    lag = season if len(history) >= season else 1
    last = history[-lag:]
    return np.resize(last, horizon).astype(np.float64)


def mean_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """The history's mean, flat."""
    return np.full(horizon, float(np.mean(history)))


def ets_forecast(history: np.ndarray, horizon: int, season: int, level: float):
    """Additive-error ETS with damped trend (and additive season when two fit), with a
    ``level`` prediction interval: ``(mean, lower, upper)``."""
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = season > 1 and len(history) >= 2 * season
    model = ETSModel(
        pd.Series(history.astype(np.float64)),  # summary_frame needs an indexed series
        error="add",
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=season if seasonal else None,
    )
    fitted = model.fit(disp=False)
    frame = fitted.get_prediction(len(history), len(history) + horizon - 1).summary_frame(
        alpha=1 - level
    )
    return frame["mean"].to_numpy(), frame["pi_lower"].to_numpy(), frame["pi_upper"].to_numpy()


def arima_forecast(history: np.ndarray, horizon: int, season: int, level: float):
    """ARIMA(1,1,1) with a seasonal MA(1) after seasonal differencing (the "airline"
    family) when a season is known; ``(mean, lower, upper)``."""
    from statsmodels.tsa.arima.model import ARIMA

    seasonal = (0, 1, 1, season) if season > 1 and len(history) >= 3 * season else (0, 0, 0, 0)
    fitted = ARIMA(history.astype(np.float64), order=(1, 1, 1), seasonal_order=seasonal).fit()
    result = fitted.get_forecast(horizon)
    bounds = np.asarray(result.conf_int(alpha=1 - level))
    return np.asarray(result.predicted_mean), bounds[:, 0], bounds[:, 1]


def fracast_forecast(history: np.ndarray, horizon: int):
    """Fracast-0 (PyPI ``fracast``, weights in the package), zero-shot: its median and
    its 10% / 90% quantiles (an 80% interval, whatever ``forecast.interval`` says)."""
    if "fracast" not in _MODELS:
        from fracast.inference import FracastModel

        _MODELS["fracast"] = FracastModel.from_pretrained()
    model = _MODELS["fracast"]
    quantiles = model.forecast(history.astype(np.float32), horizon=horizon)
    column = {q: i for i, q in enumerate(model.quantiles)}
    return quantiles[:, column[0.5]], quantiles[:, column[0.1]], quantiles[:, column[0.9]]


_MODELS: dict[str, Any] = {}


def _forecast(method: str, history: np.ndarray, horizon: int, season: int, level: float):
    """``(mean, lower, upper)``; naive methods have no interval (None)."""
    if method == "fracast":
        return fracast_forecast(history, horizon)
    if method == "seasonal_naive":
        return seasonal_naive(history, horizon, season), None, None
    if method == "mean":
        return mean_forecast(history, horizon), None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # statsmodels' convergence chatter
        if method == "ets":
            return ets_forecast(history, horizon, season, level)
        return arima_forecast(history, horizon, season, level)


def forecasting_baselines(splits, names: list[str], level: float) -> dict[str, dict]:
    """``{name: {"test", "validation", "fit_seconds"}}`` per method, each scored like the
    model: validation forecasts from the history before the validation window, test
    forecasts from the whole history; ETS / ARIMA add their interval's ``coverage``."""
    out = {}
    for name in names:
        values = [part for s in splits.series for part in (s.history, s.future)]
        key = _key(name, level, splits.horizon, splits.season, *values)
        if key not in _MEMO:
            _MEMO[key] = _score_method(name, splits, level)
        out[name] = _MEMO[key]
    return out


def _score_method(method: str, splits, level: float) -> dict[str, Any]:
    from tunelab.tasks.timeseries.forecast_metrics import forecast_scores, interval_coverage

    started = time.perf_counter()
    horizon, season = splits.horizon, splits.season
    result: dict[str, Any] = {}
    try:
        for split in ("validation", "test"):
            preds, truths, scales, lows, highs = [], [], [], [], []
            for s in splits.series:  # validation: the last validation window only
                history = s.history[:-horizon] if split == "validation" else s.history
                truth = s.history[-horizon:] if split == "validation" else s.future
                mean, lower, upper = _forecast(method, history, horizon, season, level)
                preds.append(mean), truths.append(truth), scales.append(s.scale)
                lows.append(lower), highs.append(upper)
            scores = forecast_scores(np.array(preds), np.array(truths), np.array(scales))
            if lows[0] is not None:
                scores["coverage"] = interval_coverage(np.array(lows), np.array(highs),
                                                       np.array(truths))  # fmt: skip
            result[split] = scores
    except Exception as err:  # noqa: BLE001 - a baseline that fails must not fail the run
        return {"skipped": f"{type(err).__name__}: {err}"[:200]}
    result["fit_seconds"] = round(time.perf_counter() - started, 2)
    libraries = {"ets": "statsmodels", "arima": "statsmodels", "fracast": "fracast"}
    result["library"] = libraries.get(method, "numpy")
    return result

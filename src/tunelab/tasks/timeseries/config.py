"""Config sections of the two time-series tasks and of ``tunelab pretrain``.

Both tasks put a patch-transformer backbone (HF PatchTST or PatchTSMixer) under a new
head. ``model.name`` is a local HF directory (a user's checkpoint, or what
``tunelab pretrain`` wrote) or the known name of the backbone tunelab pre-trains and
caches on first use (:data:`DEFAULT_BACKBONE`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tunelab.config import DataConfig, ModelConfig, TrainConfig, _Section
from tunelab.tasks.classification import (
    ClassificationDataConfig,
    ClassificationTrainConfig,
    HeadConfig,
)

DEFAULT_BACKBONE = "patchtst-tunelab-pretrained"
Missing = Literal["interpolate", "error"]


class TSModelConfig(ModelConfig):
    """A PatchTST / PatchTSMixer backbone; ``pretrained: false`` keeps its architecture
    and draws new weights (``scratch``)."""

    name: str = DEFAULT_BACKBONE
    head: HeadConfig = Field(default_factory=HeadConfig)


class ForecastModelConfig(ModelConfig):
    """The backbone, and the dropout before the linear forecasting head."""

    name: str = DEFAULT_BACKBONE
    dropout: float = Field(0.1, ge=0.0, lt=1.0)


class TSClassificationDataConfig(ClassificationDataConfig):
    """``.ts`` files (UCR/UEA) or wide CSVs (one series per row, a label column).

    Every series is resampled (linear interpolation) to the backbone's context length,
    which also makes unequal lengths equal.
    """

    normalize: Literal["per_series", "none"] = "per_series"  # z-score per series/channel
    missing: Missing = "interpolate"


class TSClassificationTrainConfig(ClassificationTrainConfig):
    """Classification training settings, plus the classical baselines measured per run."""

    baselines: list[Literal["minirocket", "rocket"]] = Field(default_factory=lambda: ["minirocket"])


class ForecastDataConfig(DataConfig):
    """A long CSV: a time column, one or more value columns, optional series ids."""

    time_column: str = "date"
    target_column: str | list[str] = "value"
    series_column: str | None = None
    resample: str | None = None  # pandas offset alias (``MS``: monthly means), or null
    missing: Missing = "interpolate"


class ForecastConfig(_Section):
    """What is forecast and against which baselines (the task-owned ``forecast:``)."""

    horizon: int = Field(24, ge=1)
    # null: from the series' frequency (monthly 12, quarterly 4, weekly 52, daily 7,
    # hourly 24; else 1 = naive)
    season_length: int | None = Field(None, ge=1)
    window_stride: int = Field(1, ge=1)  # step between training windows
    # Rolling validation origins before the test window (1 where a series is too short):
    # one window of one series makes early stopping follow noise.
    validation_windows: int = Field(12, ge=1)
    loss: Literal["mse", "mae"] = "mse"  # on values scaled by each window's context
    # fracast: Fracast-0 zero-shot, when the fracast package is installed
    baselines: list[Literal["seasonal_naive", "mean", "ets", "arima", "fracast"]] = Field(
        default_factory=lambda: ["seasonal_naive", "mean", "ets", "arima", "fracast"]
    )
    interval: float = Field(0.9, gt=0.0, lt=1.0)  # ARIMA/ETS interval whose coverage is scored


class ForecastTrainConfig(TrainConfig):
    """Forecasting trains a new head and the backbone at the same scale as classifying."""

    lr: float = Field(1e-3, gt=0.0, allow_inf_nan=False)


class PretrainConfig(_Section):
    """``tunelab pretrain``: masked-patch reconstruction over shipped collections.

    The backbone's shape is set here; collections are never read past their training
    part (``_TRAIN.ts`` files only, and a statsmodels series without its last
    ``holdout_fraction``), so a later test window was never seen.
    """

    architecture: Literal["patchtst", "patchtsmixer"] = "patchtst"
    collections: list[Literal["ucr", "statsmodels"]] = Field(
        default_factory=lambda: ["ucr", "statsmodels"]
    )
    context_length: int = Field(128, ge=16)
    patch_length: int = Field(16, ge=2)
    patch_stride: int = Field(8, ge=1)
    d_model: int = Field(64, ge=8)
    layers: int = Field(3, ge=1)
    heads: int = Field(4, ge=1)
    ffn_dim: int = Field(128, ge=8)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    mask_ratio: float = Field(0.4, gt=0.0, lt=1.0)
    max_windows: int = Field(12000, ge=16)
    epochs: int = Field(8, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    holdout_fraction: float = Field(0.2, ge=0.0, lt=1.0)
    seed: int = Field(0, ge=0)


class AnomalyDataConfig(DataConfig):
    """Labelled series as TimeEval / aeon write them: a time column, a value column and a
    0/1 label column (``builtin:KDD-TSAD_135_TRAIN`` / ``_TEST`` read aeon's copy).

    ``data.train`` is mostly normal; ``data.validation``, or else its last
    ``val_fraction``, is the validation part (threshold and early stopping). Without
    ``data.test`` the last ``test_fraction`` of ``data.train`` is the test part, and
    then it needs labels.
    """

    time_column: str | None = "timestamp"  # null: the file's row order
    target_column: str = "value"
    label_column: str = "is_anomaly"
    val_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    missing: Missing = "interpolate"


class AnomalyConfig(_Section):
    """How points are scored and flagged (the task-owned ``anomaly:``).

    A point's score is the backbone's error on it, in the window's standardised units:
    of a forecast from the ``context`` points before it, or of the reconstruction of the
    window it lies in. Points whose score is over the threshold are flagged.
    """

    score: Literal["forecast", "reconstruction"] = "forecast"
    horizon: int = Field(1, ge=1)  # points forecast per window (score: forecast)
    window_stride: int = Field(1, ge=1)  # step between training windows
    # validation_quantile: the ``quantile`` of the (normal) validation scores;
    # contamination: flag the top ``contamination`` share of each scored series
    threshold: Literal["validation_quantile", "contamination"] = "validation_quantile"
    quantile: float = Field(0.99, gt=0.0, le=1.0)
    contamination: float = Field(0.01, gt=0.0, lt=0.5)
    baselines: list[Literal["rolling_zscore", "naive"]] = Field(
        default_factory=lambda: ["rolling_zscore", "naive"]
    )

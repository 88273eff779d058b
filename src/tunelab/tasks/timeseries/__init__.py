"""Time series: ``timeseries_classification``, ``forecasting`` and ``anomaly_detection``
on one backbone family.

The tasks put a patch transformer (HF PatchTST / PatchTSMixer, from a local directory
or pre-trained here by ``tunelab pretrain``) under a new head; readers for ``.ts``, wide
and long CSVs, the backbone, pre-training and the classical baselines are shared.
"""

from tunelab.tasks.timeseries.anomaly_task import AnomalyDetectionTask
from tunelab.tasks.timeseries.backbone import register_known_backbones
from tunelab.tasks.timeseries.classification_task import SeriesClassificationTask
from tunelab.tasks.timeseries.forecasting_task import ForecastingTask

register_known_backbones()

__all__ = ["AnomalyDetectionTask", "ForecastingTask", "SeriesClassificationTask"]

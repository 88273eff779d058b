"""Image classification: timm CNNs, images decoded once, augmentation per batch.

Everything particular to images lives here: sources (folders, path tables, arrays),
decoding, transforms and augmentation, batches, the timm model and its layer groups,
the predictor and the saved ``model/`` directory.
"""

from tunelab.tasks.image import model as _model  # noqa: F401  (registers its known models)
from tunelab.tasks.image.task import (
    ImagePredictor,
    ImageTask,
    as_image_list,
    evaluate_images,
    load_image_predictor,
    save_image_model,
)

__all__ = [
    "ImagePredictor",
    "ImageTask",
    "as_image_list",
    "evaluate_images",
    "load_image_predictor",
    "save_image_model",
]

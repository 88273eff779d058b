"""Image classification: timm CNNs, images decoded once, augmentation per batch.

Everything particular to images lives here: sources (folders, path tables, arrays),
decoding, transforms and augmentation, batches, the timm model and its layer groups,
the predictor and the saved ``model/`` directory.
"""

from tunelab.tasks.image import model as _model  # noqa: F401  (registers its known models)
from tunelab.tasks.image.evaluate import evaluate_images
from tunelab.tasks.image.predictor import ImagePredictor, as_image_list, load_image_predictor
from tunelab.tasks.image.save import save_image_model
from tunelab.tasks.image.task import ImageTask

__all__ = [
    "ImagePredictor",
    "ImageTask",
    "as_image_list",
    "evaluate_images",
    "load_image_predictor",
    "save_image_model",
]

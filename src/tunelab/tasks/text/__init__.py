"""Text classification: an HF encoder, a pooled classification head, tokenized batches.

Everything particular to texts lives here: reading and cleaning tables (``data``),
building the encoder classifier (``model``), the predictor, the saved ``model/``
directory (``save``) and the representation-drift probe.
"""

from tunelab.tasks.text import model as _model  # noqa: F401  (registers its known models)
from tunelab.tasks.text.task import TextTask

__all__ = ["TextTask"]

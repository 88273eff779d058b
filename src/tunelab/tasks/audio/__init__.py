"""Audio classification: an audio encoder (Whisper tiny.en from a CTranslate2 file, or
any local HF Wav2Vec2 / HuBERT / AST / Whisper directory), clips decoded once with
soundfile, seeded augmentation per batch, the model's own feature extractor.

Everything particular to audio lives here: sources (folders, path tables), decoding and
the clip policy, augmentation, batches, the CTranslate2 reader, the model and its layer
groups, the predictor, the saved ``model/`` directory and espeak-ng demo data.
"""

from tunelab.tasks.audio import model as _model  # noqa: F401  (registers its known models)
from tunelab.tasks.audio.task import AudioTask

__all__ = ["AudioTask"]

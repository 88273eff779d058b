"""Audio sources: list a source's files and labels before anything is decoded.

A source in ``data.train`` / ``data.validation`` / ``data.test`` is one of

- a folder with one sub-folder per class (``commands/stop/take_03.wav``); files without
  an audio suffix are ignored, nested folders inside a class folder are read too;
- a ``.csv`` / ``.jsonl`` (any table :func:`~tunelab.data.read_table` reads) with a path
  column (``data.path_column``; relative paths resolve from the table's folder) and
  ``data.label_column``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tunelab.data.class_folders import list_class_folder, list_path_table
from tunelab.data.cleaning import normalize_label
from tunelab.errors import DataError
from tunelab.tasks.audio.config import AudioDataConfig

# What libsndfile (soundfile) decodes; MP3 needs libsndfile >= 1.1.
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".aiff", ".aif", ".au"}


@dataclass
class AudioEntries:
    """A source's clips before decoding: one row per file, ``path`` and ``label``."""

    frame: pd.DataFrame
    origin: str
    dropped_missing: int = 0


def list_source(source: str, where: str, cfg: AudioDataConfig) -> AudioEntries:
    """List one source's audio files and labels (nothing is decoded yet).

    Raises:
        DataError: missing path, a folder without class sub-folders of audio files, or a
            table without the path / label column.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return list_folder(path, where)
    if path.is_file():
        return list_table(source, where, cfg)
    raise DataError(
        f"{where}: '{source}' not found; give a folder with one sub-folder of audio files "
        "per class, or a CSV/JSONL of path,label"
    )


def list_folder(root: Path, where: str) -> AudioEntries:
    """``root/<class>/**/<file>`` for every audio suffix; hidden files are skipped."""
    frame = list_class_folder(root, AUDIO_SUFFIXES, "path", where, "audio files")
    return AudioEntries(frame, str(root))


def list_table(source: str, where: str, cfg: AudioDataConfig) -> AudioEntries:
    """Rows of a path,label table; rows missing either are dropped and counted."""
    columns = (cfg.path_column, cfg.label_column)
    frame, dropped = list_path_table(source, where, columns, normalize_label, "path")
    return AudioEntries(frame, source, dropped_missing=dropped)

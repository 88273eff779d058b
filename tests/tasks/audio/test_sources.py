"""Listing folders of class sub-folders and path,label tables."""

from __future__ import annotations

import json

import pytest

from tunelab.errors import DataError
from tunelab.tasks.audio.config import AudioDataConfig
from tunelab.tasks.audio.sources import list_source


def test_a_folder_lists_audio_files_by_class_and_ignores_the_rest(tmp_path):
    for rel in ("yes/a.wav", "yes/deep/b.FLAC", "no/c.mp3", "no/notes.txt", "no/.hidden.wav"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    entries = list_source(str(tmp_path), "data.train", AudioDataConfig())
    assert sorted(zip(entries.frame["label"], entries.frame["path"], strict=True)) == [
        ("no", str(tmp_path / "no/c.mp3")),
        ("yes", str(tmp_path / "yes/a.wav")),
        ("yes", str(tmp_path / "yes/deep/b.FLAC")),
    ]


def test_csv_and_jsonl_resolve_relative_paths_and_drop_incomplete_rows(tmp_path):
    (tmp_path / "t.csv").write_text("file,word\nclips/1.wav,yes\n/abs/2.wav,no\n,no\n3.wav,\n")
    cfg = AudioDataConfig(path_column="file", label_column="word")
    entries = list_source(str(tmp_path / "t.csv"), "data.train", cfg)
    assert entries.frame["path"].tolist() == [str(tmp_path / "clips/1.wav"), "/abs/2.wav"]
    assert entries.dropped_missing == 2
    rows = [{"path": "a.ogg", "label": "up"}, {"path": "b.ogg", "label": "down"}]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    listed = list_source(str(tmp_path / "t.jsonl"), "data.test", AudioDataConfig())
    assert listed.frame["label"].tolist() == ["up", "down"]


def test_missing_sources_and_columns_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="data.train: '.*nope' not found; give a folder"):
        list_source(str(tmp_path / "nope"), "data.train", AudioDataConfig())
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no audio files in class sub-folders"):
        list_source(str(tmp_path / "empty"), "data.train", AudioDataConfig())
    (tmp_path / "t.csv").write_text("path,text\na.wav,x\n")
    with pytest.raises(DataError, match="no column 'label'.*set data.label_column"):
        list_source(str(tmp_path / "t.csv"), "data.train", AudioDataConfig())

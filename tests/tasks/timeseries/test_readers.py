"""Readers: .ts (missing values, unequal lengths, channels), wide CSV, long tables."""

from __future__ import annotations

import numpy as np
import pytest

from tests.tasks.timeseries.conftest import make_waves, write_ts, write_wide
from tunelab.errors import DataError
from tunelab.tasks.timeseries.readers import parse_ts, read_labelled
from tunelab.tasks.timeseries.series import fill_missing, prepare_series, resample


def test_ts_file_with_missing_values_unequal_lengths_and_two_channels(tmp_path):
    series = [
        np.array([[1.0, np.nan, 3.0], [0.0, 1.0, 2.0]]),
        np.array([[1.0, 2.0, 3.0, 4.0, 5.0], [5.0, 4.0, 3.0, 2.0, 1.0]]),
    ]
    path = write_ts(tmp_path / "x.ts", series, ["a", "b"])
    values, labels = parse_ts(path, "data.train")
    assert labels == ["a", "b"]
    assert [v.shape for v in values] == [(2, 3), (2, 5)]
    assert np.isnan(values[0][0, 1]) and values[1][1, 0] == 5.0


def test_a_ts_line_with_other_channels_names_its_line(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text("@classLabel true a b\n@data\n1,2:3,4:a\n1,2:b\n")
    with pytest.raises(DataError, match="line 4: 1 channels"):
        parse_ts(path, "data.train")


def test_a_word_in_a_ts_file_names_line_and_value(tmp_path):
    path = tmp_path / "bad.ts"
    path.write_text("@classLabel true a\n@data\n1,x,3:a\n")
    with pytest.raises(DataError, match="line 3: 'x' is not a number"):
        parse_ts(path, "data.train")


def test_wide_csv_trailing_empty_cells_end_a_shorter_series(tmp_path):
    series, labels = make_waves(4)
    series[1] = series[1][:, :30]
    frame_path = write_wide(tmp_path / "w.csv", series, labels)
    found = read_labelled(str(frame_path), "data.train")
    assert [s.shape[1] for s in found.series] == [40, 30, 40, 40]
    assert found.labels == labels


def test_wide_csv_without_the_label_column_says_which_key_to_set(tmp_path):
    series, labels = make_waves(2)
    path = write_wide(tmp_path / "w.csv", series, labels)
    with pytest.raises(DataError, match="set data.label_column"):
        read_labelled(str(path), "data.train", label_column="class")


def test_fill_resample_and_normalise():
    filled, count = fill_missing(np.array([[np.nan, 1.0, np.nan, 3.0, np.nan]]))
    assert count == 3 and filled.tolist() == [[1.0, 1.0, 2.0, 3.0, 3.0]]
    stretched = resample(np.array([[0.0, 1.0]]), 5)
    assert np.allclose(stretched, [[0.0, 0.25, 0.5, 0.75, 1.0]])
    values, counts = prepare_series(
        [np.array([[1.0, np.nan, 3.0]]), np.arange(6.0)[None]], 8, True, "interpolate", "x"
    )
    assert values.shape == (2, 1, 8) and counts["missing_values"] == 1
    assert counts["resampled"] == 2
    assert np.allclose(values.mean(axis=-1), 0, atol=1e-6)
    assert np.allclose(values.std(axis=-1), 1, atol=1e-4)


def test_missing_values_refused_when_asked():
    with pytest.raises(DataError, match="data.missing: interpolate"):
        prepare_series([np.array([[1.0, np.nan, 3.0]])], 4, False, "error", "data.train")


def test_shipped_ucr_sets_read_when_sktime_is_installed():
    pytest.importorskip("sktime", reason="UCR files ship with sktime (make setup)")
    found = read_labelled("builtin:BasicMotions_TRAIN", "data.train")
    assert len(found) == 40 and found.series[0].shape == (6, 100)
    vowels = read_labelled("builtin:JapaneseVowels_TRAIN", "data.train")
    assert len({s.shape[1] for s in vowels.series}) > 1  # unequal lengths


def test_unknown_builtin_names_the_install():
    with pytest.raises(DataError, match="sktime"):
        read_labelled("builtin:NoSuchSet_TRAIN", "data.train")

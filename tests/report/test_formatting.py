"""Number formatting: the same count reads the same everywhere in the report."""

from __future__ import annotations

import pytest

from tunelab.report import formatting as fmt


@pytest.mark.parametrize(
    ("count", "text"),
    [(None, "—"), (512, "512"), (6_150, "6.2K"), (3_550_000, "3.5M"), (1.1e9, "1.1B")],
)
def test_params(count: int | None, text: str) -> None:
    assert fmt.params(count) == text


def test_percent_keeps_tiny_shares_visible() -> None:
    assert fmt.percent(3_550_000, 22_700_000) == "15.6%"
    assert fmt.percent(6_150, 22_367_232) == "0.027%"
    assert fmt.percent(0, 100) == "0.0%"
    assert fmt.percent(5, 0) == "—"


def test_mean_std_drops_zero_spread() -> None:
    assert fmt.mean_std(0.8123, 0.0041) == "0.812 ± 0.004"
    assert fmt.mean_std(0.8, 0.0) == "0.800"
    assert fmt.mean_std(None, 0.1) == "—"


@pytest.mark.parametrize(
    ("value", "text"), [(41.23, "41.2 s"), (725, "12 min 5 s"), (3780, "1 h 3 min")]
)
def test_seconds(value: float, text: str) -> None:
    assert fmt.seconds(value) == text


def test_learning_rate_matches_config_notation() -> None:
    assert fmt.learning_rate(5e-5) == "5e-5"
    assert fmt.learning_rate(1e-3) == "0.001"
    assert fmt.learning_rate(2.048e-5, digits=2) == "2e-5"


def test_number_and_count() -> None:
    assert fmt.number(1830.5, 0, "MB") == "1,830 MB"
    assert fmt.number(4.12, 1, "ms") == "4.1 ms"
    assert fmt.count(1204) == "1,204"
    assert fmt.score(None) == "—"

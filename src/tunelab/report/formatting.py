"""Number formatting shared by the template, the flowchart and the figures.

One place decides how a parameter count or a score is written, so the header, the
flowchart and the tables never disagree ("3.5M" in one place, "3,550,000" in another).
Every function accepts ``None`` and returns an em dash: a field missing from an older run
directory shows as "—" instead of crashing the report.
"""

from __future__ import annotations

MISSING = "—"


def params(count: int | float | None) -> str:
    """Parameter count in the unit people quote: ``5.8K``, ``3.5M``, ``1.1B``."""
    if count is None:
        return MISSING
    value = float(count)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.1f}{suffix}"
    return f"{int(value)}"


def percent(part: float | None, whole: float | None, digits: int = 1) -> str:
    """``part`` as a percentage of ``whole`` (``15.6%``); a dash when undefined."""
    if part is None or not whole:
        return MISSING
    share = 100.0 * part / whole
    if 0 < share < 10**-digits * 5:  # 6K of 22M is 0.03%, not "0.0%"
        return f"{share:.2g}%"
    return f"{share:.{digits}f}%"


def score(value: float | None, digits: int = 3) -> str:
    """A metric in [0, 1] with fixed decimals so table columns line up."""
    return MISSING if value is None else f"{value:.{digits}f}"


def mean_std(mean: float | None, std: float | None, digits: int = 3) -> str:
    """``0.812 ± 0.004``; the ``±`` part is dropped when there is no spread to report."""
    if mean is None:
        return MISSING
    if not std:
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def seconds(value: float | None) -> str:
    """Wall time as people read it: ``41.2 s``, ``12 min 5 s``, ``1 h 3 min``."""
    if value is None:
        return MISSING
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(int(round(value)), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def number(value: float | None, digits: int = 1, unit: str = "") -> str:
    """A plain quantity with an optional unit (``4.1 ms``, ``1,830 MB``)."""
    if value is None:
        return MISSING
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def count(value: int | None) -> str:
    """An integer with thousands separators (``1,204``)."""
    return MISSING if value is None else f"{int(value):,}"


def learning_rate(value: float | None, digits: int = 3) -> str:
    """A learning rate in the notation configs use (``5e-05`` → ``5e-5``)."""
    if value is None:
        return MISSING
    mantissa, _, exponent = f"{value:.{digits}g}".partition("e")
    if not exponent:
        return mantissa
    return f"{mantissa}e{int(exponent)}"

"""How every reader (console, report, compare, the app) prints a number."""
from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def number(value: Any, digits: int = 6, missing: str = "n/a") -> str:
    """A float with `digits` decimals; `missing` for None and NaN; an
    integer or anything that is not a number as it is."""
    if value is None:
        return missing
    if isinstance(value, bool) or isinstance(value, Integral) or not isinstance(value, Real):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return missing
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}f}"


# One format per kind of figure, the same in the console, the report, the app and compare.
MSE_DIGITS = 4  # significant digits of an MSE or a loss
CORRELATION_DIGITS = 4  # decimals of a correlation
RATIO_DIGITS = 3  # decimals of the test/train ratio
SECONDS_DIGITS = 1  # decimals of a time in seconds


def mse(value: Any, missing: str = "n/a") -> str:
    """An MSE or a loss: 4 significant digits (0.5014, 0.001330), a small
    one in scientific notation (4.800e-05), never rounded to 0.0000."""
    if value is None or isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        return number(value, missing=missing)
    return f"{float(value):#.{MSE_DIGITS}g}"


def correlation(value: Any, missing: str = "n/a") -> str:
    return number(value, CORRELATION_DIGITS, missing)


def ratio(value: Any, missing: str = "n/a") -> str:
    return number(value, RATIO_DIGITS, missing)


def seconds(value: Any, missing: str = "n/a") -> str:
    return number(value, SECONDS_DIGITS, missing)

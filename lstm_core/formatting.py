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

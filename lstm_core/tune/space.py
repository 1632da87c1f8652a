"""The search space of a study: which settings a trial may change, and over
what range. By default the fields that declare `tune=` in config.py (and
whose `tune_if` holds for the base config); a TOML [space] table replaces it:

    [space]
    lr = [1e-4, 1e-2, "log"]       # a range, sampled on a log scale
    hidden_size = [16, 128]        # a range of whole numbers (the field is int)
    scheduler = ["plateau", "cosine"]   # choices (text or true/false fields)
    chrono_init = true             # the range config.py declares for it

Every bound and choice goes through the field's own rule (config.parse_value),
so a space can never ask for a value a run would refuse.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Optional

from ..config import FIELDS, RunConfig, field_type, normalise_key, parse_value
from ..errors import ConfigError, UserError, echo

# Settings a study never searches: the seeds (a study averages over seed
# sets; it must never choose the data it is scored on) and how a run is
# stored or where it runs.
NOT_SEARCHED = ("seed", "train_seed", "val_seed", "test_seed", "target_mse", "target_patience", "epochs")


@dataclass(frozen=True)
class Dimension:
    name: str
    low: Optional[float] = None  # ranges
    high: Optional[float] = None
    log: bool = False
    choices: Optional[tuple] = None  # categorical

    def describe(self) -> str:
        if self.choices is not None:
            return "{" + ", ".join(map(str, self.choices)) + "}"
        return f"[{echo(self.low)}, {echo(self.high)}]" + (" log" if self.log else "")

    def distribution(self):
        import optuna

        if self.choices is not None:
            return optuna.distributions.CategoricalDistribution(list(self.choices))
        if field_type(self.name) is int:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(float(self.low), float(self.high), log=self.log)


Space = tuple[Dimension, ...]


def _check_searchable(name: str) -> None:
    if name not in FIELDS:
        raise UserError(f"space: {name}", "unknown setting")
    if name in NOT_SEARCHED:
        raise UserError(f"space: {name}", "is not searched (a study keeps the seeds, epochs and target fixed)")
    if FIELDS[name].metadata["group"] == "output" or field_type(name) is list:
        raise UserError(f"space: {name}", "is not a training setting a study can search")


def _bound(name: str, raw: Any) -> float:
    try:
        return parse_value(name, raw)
    except ConfigError as exc:
        raise UserError(f"space: {name}", exc.reason) from None


def dimension(name: str, spec: Any) -> Dimension:
    """One [space] entry, checked against the field's rules."""
    name = normalise_key(str(name))
    _check_searchable(name)
    kind = field_type(name)
    meta = FIELDS[name].metadata
    if spec is True:
        if "tune" in meta:
            return _declared(name)
        if kind is bool or "choices" in meta:
            spec = list(meta.get("choices", (False, True)))
        else:
            raise UserError(f"space: {name}", "declares no range of its own: give one, e.g. [low, high]")
    if not isinstance(spec, list) or not spec:
        raise UserError(f"space: {name}", f"must be [low, high], [low, high, \"log\"], a list of choices "
                                            f"or true (got {echo(spec)})")
    if kind is bool or kind is str:
        choices = tuple(_bound(name, value) for value in spec)
        if len(set(choices)) < 2:
            raise UserError(f"space: {name}", "needs at least two different choices")
        return Dimension(name, choices=choices)
    scale = "linear"
    if len(spec) == 3 and isinstance(spec[2], str):
        scale = spec[2]
        spec = spec[:2]
    if scale not in ("linear", "log") or len(spec) != 2:
        raise UserError(f"space: {name}", f"must be [low, high] or [low, high, \"log\"] (got {echo(spec)})")
    low, high = _bound(name, spec[0]), _bound(name, spec[1])
    if not low < high:
        raise UserError(f"space: {name}", f"is an empty or inverted range (low {echo(low)} >= high {echo(high)})")
    if scale == "log" and low <= 0:
        raise UserError(f"space: {name}", f"a log range must start above 0 (got low {echo(low)})")
    return Dimension(name, low, high, scale == "log")


def _declared(name: str) -> Dimension:
    low, high, *scale = FIELDS[name].metadata["tune"]
    return Dimension(name, low, high, scale == ["log"])


def default_space(base: RunConfig) -> Space:
    """The fields config.py declares tunable that matter for `base`."""
    dims = []
    for name, spec in FIELDS.items():
        meta = spec.metadata
        if "tune" in meta and meta.get("tune_if", lambda config: True)(base):
            dims.append(_declared(name))
    return tuple(dims)


def parse_space(table: Any, where: str = "[space]") -> Space:
    if not isinstance(table, Mapping) or not table:
        raise UserError(where, "must be a table naming at least one setting, e.g. lr = [1e-4, 1e-2, \"log\"]")
    dims = [dimension(name, spec) for name, spec in table.items()]
    return tuple(dims)


def space_json(space: Space) -> str:
    """The space as a study records it (and compares it on resume)."""
    return json.dumps([{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(d).items()} for d in space],
                      sort_keys=True)


"""What a study leaves: best.toml (a config for --config), tune.md and a
single-file tune.html with the best trials, the settings the best trial
changed, the optimisation history and the parameter importances (PNGs,
embedded in the HTML), and the confirmation on fresh seed sets."""
from __future__ import annotations

import io
import platform
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

from ..config import build_config, without_run_place
from ..files import atomic_write_bytes, atomic_write_text
from ..formatting import mse
from ..report import to_html, to_markdown

if TYPE_CHECKING:
    from .confirm import Confirmation

BEST_TOML, TUNE_MD, TUNE_HTML = "best.toml", "tune.md", "tune.html"
HISTORY_PNG, IMPORTANCE_PNG = "tune_history.png", "tune_importances.png"
CAPTIONS = {HISTORY_PNG: "Each trial's value (validation MSE, or seconds to the target stop) and the best so far",
            IMPORTANCE_PNG: "How much each searched setting explains of the value (Optuna's PED-ANOVA)"}
UNITS = {"median": "median validation MSE over the seed sets", "worst": "worst validation MSE over the seed sets",
         "time": "median seconds of training to the target stop (every seed set must reach it)"}
TOP = 10


def feasible(trial) -> bool:
    return all(c <= 0 for c in trial.constraints.values())


def ranked(study) -> list:
    """The complete (and, for time, feasible) trials, best first."""
    import optuna

    done = [t for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)) if feasible(t)]
    return sorted(done, key=lambda t: (t.value, t.number))


def best_settings(base: dict[str, Any], trial) -> dict[str, Any]:
    """The base settings with the best trial's values (the base's seeds)."""
    return {**without_run_place(base), **trial.params}


def write_best_toml(out: Path, base: dict[str, Any], trial) -> Path:
    config = build_config(best_settings(base, trial))
    path = out / BEST_TOML
    changed = ", ".join(f"{k} = {v!r}" for k, v in trial.params.items())
    atomic_write_text(path, f"# Best trial {trial.number} of the study in this directory: {changed}\n"
                            f"# Train it: freq-tui train --config {BEST_TOML} (from this directory)\n"
                            + config.to_toml())
    return path


def _figure():
    from matplotlib.figure import Figure

    return Figure(figsize=(8, 3.6), dpi=100)


def _png(figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def history_png(study, objective: str) -> bytes:
    import optuna
    from matplotlib.ticker import MaxNLocator

    figure = _figure()
    ax = figure.add_subplot(1, 1, 1)
    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    ok = [t for t in trials if feasible(t)]
    bad = [t for t in trials if not feasible(t)]
    ax.scatter([t.number for t in ok], [t.value for t in ok], s=18, label="complete")
    if bad:
        ax.scatter([t.number for t in bad], [t.value for t in bad], s=18, marker="x", color="grey",
                   label="missed the target on a set")
    best, xs, ys = float("inf"), [], []
    for t in sorted(ok, key=lambda t: t.number):
        best = min(best, t.value)
        xs.append(t.number)
        ys.append(best)
    ax.step(xs, ys, where="post", color="C3", label="best so far")
    if objective != "time":
        ax.set_yscale("log")
    ax.set_xlabel("trial")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # trials are numbered: no tick at 0.5
    ax.set_ylabel("seconds" if objective == "time" else "validation MSE")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    return _png(figure)


def importances(study) -> dict[str, float]:
    import optuna

    try:
        return optuna.importance.get_param_importances(study)
    except (ValueError, RuntimeError):  # too few complete trials, or a space of one value
        return {}


def importance_png(values: dict[str, float]) -> bytes:
    figure = _figure()
    ax = figure.add_subplot(1, 1, 1)
    names = list(values)[::-1]
    ax.barh(names, [values[n] for n in names])
    ax.set_xlabel("importance")
    ax.grid(alpha=0.3, axis="x")
    return _png(figure)


def _value(v: Optional[float]) -> str:
    return "" if v is None else f"{v:.6g}"


def _setting(v: Any) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


def sections(study, spec, best, confirm: Optional[dict[str, Confirmation]], imp: dict[str, float], wall_s: Optional[float]):
    import optuna

    trials = study.get_trials(deepcopy=False)
    states = {s: sum(1 for t in trials if t.state == s) for s in optuna.trial.TrialState}
    train_total = sum(t.user_attrs.get("train_time_s", 0.0) for t in trials)
    counts = ", ".join(f"{n} {s.name.lower()}" for s, n in states.items() if n)
    study_rows = [("objective", f"{spec.objective}: {UNITS[spec.objective]}"),
                  ("seed sets per trial", f"{spec.seed_sets} (model seed, validation seed) pairs; the test set is "
                                          "never drawn during trials"),
                  ("trials", counts), ("training time, all trials", f"{train_total:.1f} s")]
    if wall_s is not None:
        study_rows.append(("wall time of this process's study", f"{wall_s:.1f} s"))
    study_rows.append(("space", "; ".join(f"{d.name} {d.describe()}" for d in spec.space)))
    study_rows.append(("machine", f"{platform.machine()} {platform.system()}, {platform.python_version()}, "
                                  f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"))
    parts = [("Study", [(("setting", "value"), study_rows)])]
    if best is None:
        parts.append(("Best trial", ["No trial completed" + (" with the target reached on every seed set"
                                                            if spec.objective == "time" else "") + " yet."]))
        return parts
    changed = [(name, _setting(spec.base.get(name)), _setting(value)) for name, value in best.params.items()
               if value != spec.base.get(name)]
    parts.append(("Best trial", [
        f"Trial {best.number}: {_value(best.value)} ({UNITS[spec.objective]}); its config is `best.toml` "
        f"(train it: `freq-tui train --config best.toml`).",
        (("setting", "base", "best trial"), changed)]))
    top = ranked(study)[:TOP]
    names = [d.name for d in spec.space]
    parts.append((f"Best {len(top)} trials", [(("trial", "value", "val MSE median", "val MSE worst", "reached",
                                                 "training s", *names),
                                                [(str(t.number), _value(t.value),
                                                  _value(t.user_attrs.get("val_mse_median")),
                                                  _value(t.user_attrs.get("val_mse_worst")),
                                                  f"{t.user_attrs.get('reached', '')}/{spec.seed_sets}",
                                                  f"{t.user_attrs.get('train_time_s', 0):.1f}",
                                                  *[_value(t.params.get(n)) if isinstance(t.params.get(n), float)
                                                    else str(t.params.get(n, "")) for n in names]) for t in top])]))
    parts.append(("Optimisation history", [("figure", HISTORY_PNG)]))
    if imp:
        parts.append(("Parameter importances", [("figure", IMPORTANCE_PNG),
                                                (("setting", "importance"), [(k, f"{v:.3f}") for k, v in imp.items()])]))
    if confirm:
        rows = []
        for label, c in confirm.items():
            if c.n:
                rows.append((label, str(c.n), mse(c.test_mse_median), mse(c.test_mse_worst), f"{c.reached}/{c.n}",
                             f"{c.epochs_median:g}", f"{c.stop_median_s:.1f}"))
        per_set = [(label, str(r.seeds["seed"]), str(r.seeds["test_seed"]), mse(r.test_mse), r.status, str(r.epochs),
                    f"{r.train_time_s:.1f}") for label, c in confirm.items() for r in c.runs]
        parts.append(("Confirmation on fresh seed sets", [
            "The best config and the base config, each trained and evaluated on seed sets no trial used "
            "(new model, validation and test seeds; the config's own training data): the only test sets this study reads.",
            "Set by set the two configs train side by side (J at once), so both see the same machine load.",
            (("config", "seed sets", "test MSE median", "test MSE worst", "target reached", "median epochs",
              "median s to stop"), rows),
            ("details", "Every confirmation run", ("config", "seed", "test seed", "test MSE", "status", "epochs",
                                                   "training s"), per_set)]))
    return parts


def write_report(study, spec, confirm: Optional[dict[str, Confirmation]] = None, wall_s: Optional[float] = None) -> list[Path]:
    out = spec.out_path
    top = ranked(study)
    best = top[0] if top else None
    imp = importances(study) if len(top) >= 2 else {}
    pngs = {}
    if best is not None:
        pngs[HISTORY_PNG] = history_png(study, spec.objective)
        if imp:
            pngs[IMPORTANCE_PNG] = importance_png(imp)
    parts = sections(study, spec, best, confirm, imp, wall_s)
    title = f"Study {spec.study_name}"
    paths = []
    if best is not None:
        paths.append(write_best_toml(out, spec.base, best))
    for name, data in pngs.items():
        atomic_write_bytes(out / name, data)
        paths.append(out / name)
    atomic_write_text(out / TUNE_MD, to_markdown(title, parts, CAPTIONS))
    atomic_write_text(out / TUNE_HTML, to_html(title, parts, pngs, CAPTIONS))
    return [*paths, out / TUNE_MD, out / TUNE_HTML]

"""Run configuration: one dataclass, and the one place where its rules live.

The CLI flags, the TOML loader and the app's form are all generated from the
field metadata below and all validate through `parse_value` / `validate`, so a
rule changed here changes everywhere.
"""
from __future__ import annotations

import dataclasses
import math
import re
import unicodedata
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

from .errors import ConfigError, UserError, echo

TWO_PI = 2.0 * math.pi

# Noise presets: the range phi is drawn from, per sample and component.
NOISE_PRESETS: dict[str, tuple[float, float]] = {
    "literal": (0.0, TWO_PI),  # the specification: S carries no information
    "informative": (0.0, 0.01 * TWO_PI),  # the regime published results use
}
NOISE_CHOICES = (*NOISE_PRESETS, "custom")
MODEL_CHOICES = ("stateful", "sequence", "attention", "multitask")
WINDOW_MODELS = ("sequence", "attention")  # models fed windows of sequence_length
TRUNCATION_CHOICES = ("chunk", "step", "full")
AUGMENT_CHOICES = ("none", "shuffle_s")
SCHEDULER_CHOICES = ("plateau", "cosine")
PRECISION_CHOICES = ("fp32", "tf32", "bf16")  # what each means: lstm_core/precision.py
HANGUP_CHOICES = ("continue", "stop")
SEED_MAX = 2**32 - 1
# Input values (streams x samples x features) one data set may hold: about
# 200 MB of float32 per set, three sets per run. The default uses 200,000.
MAX_INPUT_VALUES = 50_000_000
MAX_FREQUENCIES = 64  # one figure row, one output and one input column each
MAX_REPEATS = 100  # `train --repeats N`: seeds seed .. seed + N - 1, all <= SEED_MAX
COUNT_MAX = 1_000_000  # epochs, patience and other counts of steps or updates

# Form sections, in display order.
GROUPS = {
    "data": "Data and noise",
    "model": "Model",
    "training": "Training",
    "output": "Device and output",
}


def knob(default: Any, *, group: str, help: str, **rules: Any) -> Any:
    """A config field with its section, help text and validation rules.

    rules: min / max (inclusive), gt / lt (exclusive), choices; for lists,
    max_items; for text,
    pattern (a regular expression the whole value must match) with
    pattern_help (what to tell the user it must be); blank (the value an
    empty entry stands for, where leaving a field empty is allowed).
    Tuning (`freq-tui tune`, lstm_core/tune/space.py): tune = (low, high) or
    (low, high, "log"), the field's range in the default search space;
    tune_if = a test of the base config, where the field only matters for some
    (it then joins the default space only where the test holds).
    """
    meta = {"group": group, "help": help, **rules}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    # --- data and noise -------------------------------------------------
    frequencies: list[float] = knob(
        [1.0, 3.0, 5.0, 7.0], group="data", help="Component frequencies in Hz", gt=0.0,
        max_items=MAX_FREQUENCIES,
    )
    fs: float = knob(1000.0, group="data", help="Sampling rate in Hz", gt=0.0, max=1e7)
    duration: float = knob(10.0, group="data", help="Signal length in seconds", gt=0.0, max=1e7)
    amplitude_low: float = knob(0.8, group="data", help="Amplitude noise: lower bound", min=0.0, max=1e6)
    amplitude_high: float = knob(1.2, group="data", help="Amplitude noise: upper bound", min=0.0, max=1e6)
    noise: str = knob(
        "literal",
        group="data",
        help="Phase noise preset: literal U(0,2pi), informative U(0,0.02pi), or custom",
        choices=NOISE_CHOICES,
    )
    phase_low: float = knob(0.0, group="data", help="Phase noise lower bound, radians (custom noise)", min=0.0, max=1e6)
    phase_high: float = knob(TWO_PI, group="data", help="Phase noise upper bound, radians (custom noise)", min=0.0, max=1e6)
    train_seed: int = knob(1, group="data", help="Noise seed of the training set", min=0, max=SEED_MAX)
    val_seed: int = knob(3, group="data", help="Noise seed of the validation set", min=0, max=SEED_MAX)
    test_seed: int = knob(2, group="data", help="Noise seed of the test set", min=0, max=SEED_MAX)
    # --- model ------------------------------------------------------------
    model: str = knob(
        "stateful", group="model",
        help="stateful (L=1, state carried), sequence (windows of L), attention (windows of L, "
             "causal attention over the window), multitask (S only in, all frequencies out, state carried)",
        choices=MODEL_CHOICES,
    )
    hidden_size: int = knob(64, group="model", help="LSTM hidden units", min=1, max=4096, tune=(8, 256, "log"))
    num_layers: int = knob(1, group="model", help="Stacked LSTM layers", min=1, max=16, tune=(1, 3))
    dropout: float = knob(0.0, group="model", help="Dropout between LSTM layers", min=0.0, lt=1.0,
                          tune=(0.0, 0.5), tune_if=lambda c: c.num_layers >= 2)
    sequence_length: int = knob(10, group="model", help="Window length L (sequence and attention models)", min=1, max=COUNT_MAX,
                               tune=(5, 100, "log"), tune_if=lambda c: c.model in WINDOW_MODELS)
    carry_state: bool = knob(
        False, group="model", help="Sequence/attention model: carry state across consecutive windows (TBPTT)"
    )
    truncation: str = knob(
        "chunk", group="model",
        help="Stateful/multitask model: backprop through each chunk (chunk), one step only (step), "
        "or (stateful) the whole trained prefix from the reset (full)",
        choices=TRUNCATION_CHOICES,
    )
    chrono_init: int = knob(
        0, group="model",
        help="Chrono initialisation of the gate biases for time scales up to this many steps (0: PyTorch default)",
        min=0, max=COUNT_MAX, tune=(0, 2000),
    )
    # --- training -----------------------------------------------------------
    epochs: int = knob(50, group="training", help="Maximum epochs", min=1, max=COUNT_MAX)
    batch_size: int = knob(
        32, group="training",
        help="sequence/attention: windows per update; stateful/multitask: time steps per update (all streams)",
        min=1, max=COUNT_MAX, tune=(10, 200, "log"),
    )
    lr: float = knob(1e-3, group="training", help="Adam learning rate", gt=0.0, max=10.0, tune=(1e-4, 3e-2, "log"))
    weight_decay: float = knob(0.0, group="training", help="Adam weight decay", min=0.0, max=1e6)
    grad_clip: float = knob(1.0, group="training", help="Gradient-norm clip (0 turns it off)", min=0.0, max=1e12,
                            tune=(0.1, 10.0, "log"))
    patience: int = knob(10, group="training", help="Early stopping: epochs without improvement", min=1, max=COUNT_MAX)
    lr_patience: int = knob(3, group="training", help="ReduceLROnPlateau patience, epochs", min=0, max=COUNT_MAX)
    lr_factor: float = knob(0.5, group="training", help="ReduceLROnPlateau factor", gt=0.0, lt=1.0)
    seed: int = knob(0, group="training", help="Seed for initialisation and shuffling", min=0, max=SEED_MAX)
    # Target stop: the run ends once it is as good as asked for on the
    # validation set (never the test set), so its time is what a user waits.
    target_mse: float = knob(
        0.0, group="training",
        help="Stop once the validation MSE has been <= this for target_patience epochs in a row (0 = off)",
        min=0.0, blank=0.0,
    )
    target_patience: int = knob(
        3, group="training", help="Target stop: epochs in a row the validation MSE must stay <= target_mse", min=1
    )
    augment_snr_db: float = knob(
        0.0, group="training",
        help="Training only: add white Gaussian noise to S at this SNR in dB, fresh each epoch (0 = off)",
        min=-40.0, max=120.0, blank=0.0, tune=(10.0, 40.0),
    )
    ema_decay: float = knob(
        0.0, group="training",
        help="Validate, keep and evaluate an exponential moving average of the weights, updated after every "
        "update with this decay (0 = off: the trained weights)",
        min=0.0, lt=1.0, blank=0.0,
    )
    scheduler: str = knob(
        "plateau", group="training",
        help="Learning-rate schedule: plateau (ReduceLROnPlateau on val loss) or cosine (to 0 over cosine_epochs)",
        choices=SCHEDULER_CHOICES,
    )
    cosine_epochs: int = knob(
        0, group="training",
        help="scheduler = cosine: epochs the lr decays to 0 over, not counting those it waits at "
        "curriculum_lr_min (0, or more than epochs: epochs)",
        min=0, max=COUNT_MAX,
    )
    updates_per_epoch: int = knob(
        10, group="training", help="truncation = full: updates (passes over the trained prefix) per epoch", min=1, max=COUNT_MAX
    )
    # Regimes for the literal noise, where S is i.i.d. over time and a model
    # can only learn the targets by timing from the reset.
    augment: str = knob(
        "none", group="training",
        help="shuffle_s: a fresh time shuffle of the training S for every pass (only when S is i.i.d. over time)",
        choices=AUGMENT_CHOICES,
    )
    curriculum_start: int = knob(
        0, group="training", help="Curriculum: steps trained from the reset at first (0: the whole stream)", min=0, max=SEED_MAX
    )
    curriculum_growth: float = knob(
        1.5, group="training", help="Curriculum: factor the trained prefix grows by", gt=1.0, max=1e6
    )
    curriculum_lr_min: float = knob(
        0.0, group="training",
        help="Curriculum with scheduler = cosine: while the prefix still grows the lr waits here instead of "
        "going lower, for up to epochs in all (0: it never waits)",
        min=0.0, max=10.0, blank=0.0,
    )
    curriculum_threshold: float = knob(
        0.01, group="training", help="Curriculum: grow once an epoch's train loss is below this", gt=0.0, max=1e12
    )
    # --- device and output -----------------------------------------------
    device: str = knob(
        "auto", group="output", help="auto, cpu, cuda, cuda:N or mps",
        pattern=r"auto|cpu|mps|cuda(:[0-9]+)?", pattern_help="auto, cpu, cuda, cuda:N or mps",
    )
    precision: str = knob(
        "fp32", group="output",
        help="Training arithmetic: fp32 (IEEE float32), tf32 (TF32 tensor cores, CUDA only; fp32 elsewhere) "
        "or bf16 (bfloat16 autocast). Validation and test are always fp32",
        choices=PRECISION_CHOICES,
    )
    cuda_graphs: bool = knob(
        True, group="output",
        help="CUDA only: replay each chunk update from a CUDA graph (the same arithmetic, without launching "
        "hundreds of small kernels per update); off: plain eager PyTorch",
    )
    cpu_threads: int = knob(
        1, group="output", help="Torch threads when training on the CPU (0: torch's default)", min=0, max=1024
    )
    tensorboard: bool = knob(
        False, group="output",
        help="Also write each epoch's metrics as TensorBoard event files in the run directory "
        "(needs pip install 'freq-lstm[tensorboard]')",
    )
    on_hangup: str = knob(
        "continue", group="output",
        help="When the terminal hangs up (SIGHUP: an SSH drop, a closed window): continue = train to the end "
        "with output discarded, then evaluate and report; stop = finish the batch, keep checkpoints, "
        "mark the run interrupted (resume it later)",
        choices=HANGUP_CHOICES,
    )
    run_dir: str = knob("", group="output", help="Run directory (empty: runs/<timestamp>-<model>[-<run_name>])")
    run_name: str = knob(
        "", group="output",
        help="Label added to the default run directory name (only letters, digits, '.', '-', '_' are kept)",
    )

    # ---------------------------------------------------------------------
    @property
    def phase_range(self) -> tuple[float, float]:
        if self.noise == "custom":
            return (self.phase_low, self.phase_high)
        return NOISE_PRESETS[self.noise]

    @property
    def n_samples(self) -> int:
        """fs * duration rounded; 0 where the product is not a finite number
        (validate refuses both before anything uses them)."""
        product = self.fs * self.duration
        return int(round(product)) if math.isfinite(product) else 0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(RunConfig)}


def field_type(name: str) -> type:
    default = RunConfig()
    return type(getattr(default, name))


def normalise_key(key: str) -> str:
    return key.strip().replace("-", "_")


def _fmt_number(value: float) -> str:
    return echo(value)


def _describe_range(meta: Mapping[str, Any]) -> str:
    parts = []
    for rule, sign in (("min", ">="), ("gt", ">"), ("max", "<="), ("lt", "<")):
        if rule in meta:
            parts.append(f"{sign} {_fmt_number(meta[rule])}")
    return " and ".join(parts)


def _check_number(name: str, value: float, meta: Mapping[str, Any]) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(name, f"must be a finite number (got {echo(value)})")
    bad = (
        ("min" in meta and value < meta["min"])
        or ("gt" in meta and value <= meta["gt"])
        or ("max" in meta and value > meta["max"])
        or ("lt" in meta and value >= meta["lt"])
    )
    if bad:
        raise ConfigError(name, f"must be {_describe_range(meta)} (got {_fmt_number(value)})")


def parse_number(raw: Any) -> float:
    """A float from a number or text; never a bool, a list or other nesting."""
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise ValueError
    return float(raw)


def parse_value(name: str, raw: Any) -> Any:
    """Turn a raw value (text from a flag or form, or a TOML value) into the
    field's type, checking the field's own rules. Raises ConfigError."""
    name = normalise_key(name)
    if name not in FIELDS:
        raise ConfigError(name, "unknown setting")
    meta = FIELDS[name].metadata
    kind = field_type(name)
    if "blank" in meta and isinstance(raw, str) and not raw.strip():
        raw = meta["blank"]
    if isinstance(raw, str) and any(unicodedata.category(ch) == "Cc" for ch in raw.strip()):
        # escapes, DEL, C1 codes (a terminal's CSI): pasted, never typed; in any field
        raise ConfigError(name, f"must not contain control characters (got {echo(raw)})")
    try:
        if kind is bool:
            if isinstance(raw, bool):
                value = raw
            elif isinstance(raw, str) and raw.strip().lower() in {"1", "true", "yes", "on"}:
                value = True
            elif isinstance(raw, str) and raw.strip().lower() in {"0", "false", "no", "off"}:
                value = False
            else:
                raise ValueError
        elif kind is int:
            if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
                raise ValueError
            value = int(raw) if not isinstance(raw, str) else int(raw.strip())
        elif kind is float:
            value = parse_number(raw)
        elif kind is list:
            items = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
            if len(items) > meta["max_items"]:
                raise ConfigError(name, f"must hold at most {meta['max_items']} values (got {len(items):,})")
            value = [parse_number(x) for x in items]
            if not value:
                raise ValueError
        else:
            if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
                raise ValueError
            value = str(raw).strip()
    except (TypeError, ValueError, OverflowError):
        expected = {bool: "true or false", int: "a whole number", float: "a number",
                    list: "a list of numbers, e.g. 1,3,5,7", str: "text"}[kind]
        raise ConfigError(name, f"must be {expected} (got {echo(raw)})") from None

    if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
        raise ConfigError(name, f"must be {meta['pattern_help']} (got {echo(value)})")
    if "choices" in meta and value not in meta["choices"]:
        raise ConfigError(name, f"must be one of {', '.join(meta['choices'])} (got {echo(value)})")
    if kind in (int, float):
        _check_number(name, value, meta)
    if kind is list:
        for item in value:
            _check_number(name, item, meta)
    return value


def validate(config: RunConfig) -> None:
    """Rules that involve more than one field. Raises the first ConfigError."""
    for name in FIELDS:
        parse_value(name, getattr(config, name))
    if config.amplitude_low > config.amplitude_high:
        raise ConfigError("amplitude_low", f"must not exceed amplitude_high ({config.amplitude_low:g} > {config.amplitude_high:g})")
    low, high = config.phase_range
    if low > high:
        raise ConfigError("phase_low", f"must not exceed phase_high ({low:g} > {high:g})")
    nyquist = config.fs / 2
    for f in config.frequencies:
        if f >= nyquist:
            raise ConfigError("frequencies", f"{f:g} Hz is at or above the Nyquist rate fs/2 = {nyquist:g} Hz")
    if len(set(config.frequencies)) != len(config.frequencies):
        raise ConfigError("frequencies", "must not repeat a frequency")
    if config.n_samples < 2:
        raise ConfigError("duration", "gives fewer than 2 samples at this fs")
    k = len(config.frequencies)
    if config.n_samples * k * (k + 1) > MAX_INPUT_VALUES:
        raise ConfigError("duration", f"fs * duration = {config.n_samples} samples x {k} frequencies is too much data "
                                      f"(at most {MAX_INPUT_VALUES:,} input values per data set)")
    if config.model in WINDOW_MODELS:
        if config.sequence_length < 2:
            raise ConfigError("sequence_length", f"must be >= 2 for the {config.model} model (got {config.sequence_length})")
        if config.sequence_length > config.n_samples:
            raise ConfigError("sequence_length", f"must not exceed the {config.n_samples} samples of the signal")
    if config.num_layers == 1 and config.dropout > 0:
        raise ConfigError("dropout", "needs num_layers >= 2 (PyTorch applies it between layers)")
    stateful_stream = config.model == "stateful" or (config.model == "sequence" and config.carry_state)
    if config.truncation == "full" and config.model != "stateful":
        raise ConfigError("truncation", "full applies to the stateful model only")
    if config.augment == "shuffle_s" and high - low < TWO_PI - 1e-9:
        raise ConfigError("augment", "shuffle_s needs a phase range of 2pi: only then is S i.i.d. over time "
                          "and a shuffle another draw of the same noise")
    if config.augment != "none" and config.model not in ("stateful", "sequence"):
        raise ConfigError("augment", f"{config.augment} applies to the stateful and sequence models only")
    if config.curriculum_start > 0 and not stateful_stream:
        raise ConfigError("curriculum_start", "needs a model that carries state along the stream "
                          "(stateful, or sequence with carry_state)")
    if config.curriculum_start > config.n_samples:
        raise ConfigError("curriculum_start", f"must not exceed the {config.n_samples} samples of the signal")
    # cosine_epochs and curriculum_lr_min do nothing without the cosine (and
    # the wait nothing without a curriculum), so a preset's values stay
    # valid when a flag turns those off; a wait above lr would raise the lr.
    if config.scheduler == "cosine" and config.curriculum_lr_min >= config.lr:
        raise ConfigError("curriculum_lr_min", f"must be below lr ({config.curriculum_lr_min:g} >= {config.lr:g})")
    if len({config.train_seed, config.val_seed, config.test_seed}) != 3:
        raise ConfigError("val_seed", "train_seed, val_seed and test_seed must all differ")
    if config.tensorboard:
        from .tensorboard_log import EXTRA, available

        if not available():
            raise ConfigError("tensorboard", f"needs the optional extra: {EXTRA}")


def parameter_count(config: RunConfig, n_frequencies: Optional[int] = None) -> int:
    """Weights of the model `config` describes (models.py), counted without
    building it."""
    k = len(config.frequencies) if n_frequencies is None else n_frequencies
    h, layers = config.hidden_size, config.num_layers
    inputs = 1 if config.model == "multitask" else 1 + k
    count = 4 * h * (inputs + h + 2) + (layers - 1) * 4 * h * (2 * h + 2)
    count += {"multitask": (h + 1) * k, "attention": h * h + 2 * h + 1 + 2 * h + 1}.get(config.model, h + 1)
    return count


def memory_estimate(config: RunConfig) -> dict[str, int]:
    """Bytes a run of `config` needs at its peak, from the sizes alone (an
    estimate with room to spare, not a measurement): 'data' (three sets as
    numpy arrays and model inputs, training and validation copies on the
    device), 'model' (weights, gradients, Adam's two moments, the best
    weights and a checkpoint being written), 'training' (one update's
    activations), 'evaluation' (a whole-stream prediction and the arrays
    the metrics and report keep); 'host' and 'device' are the totals for
    the machine's memory and, on a GPU, the GPU's."""
    k, n, h, layers = len(config.frequencies), config.n_samples, config.hidden_size, config.num_layers
    f4, f8 = 4, 8
    one_set = (k + 2) * n * f8 + k * n * (k + 2) * f4
    on_device = 2 * k * n * (k + 2) * f4
    rows = k
    if config.model in WINDOW_MODELS:
        rows, steps = config.batch_size, config.sequence_length
    elif config.truncation == "full":
        steps = n
    else:
        steps = min(config.batch_size, n)
    training = rows * steps * (8 * h * layers + k + 2) * f4
    if config.model == "attention":
        training += rows * steps * steps * f4 * 2
    evaluation = k * n * h * f4 * (2 if layers > 1 else 1) + 12 * k * n * f8
    model = 7 * parameter_count(config) * f4
    work = max(training, evaluation)
    sizes = {"data": 3 * one_set + on_device, "model": model, "training": training, "evaluation": evaluation}
    sizes["device"] = on_device + model + work
    sizes["host"] = 3 * one_set + model + work + (0 if config.device.startswith("cuda") else on_device)
    return sizes


def check_repeats(config: RunConfig, repeats: int) -> None:
    """`train --repeats N` trains seeds seed .. seed + N - 1: N is bounded and
    every one of those seeds must be a valid seed (none wraps around)."""
    if not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError("--repeats", f"must be between 1 and {MAX_REPEATS} (got {echo(repeats)})")
    last = config.seed + repeats - 1
    if last > SEED_MAX:
        raise ConfigError("seed", f"seed + repeats - 1 = {last} is above the largest seed {SEED_MAX} "
                                  f"(use a seed <= {SEED_MAX - repeats + 1} for {repeats} repeats)")

RUN_PLACE = ("run_dir", "run_name")  # where a run is written, not what it trains


def without_run_place(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings without where the run goes: equal for two runs of one recipe."""
    return {k: v for k, v in settings.items() if k not in RUN_PLACE}


def build_config(*layers: Mapping[str, Any]) -> RunConfig:
    """Merge raw settings (later layers win: defaults < file < flags), parse
    and validate them. Raises ConfigError naming the first bad field."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, raw in layer.items():
            merged[normalise_key(key)] = raw
    values = {name: parse_value(name, raw) for name, raw in merged.items()}
    noise = values.get("noise", RunConfig.noise)
    if noise != "custom":
        for name in ("phase_low", "phase_high"):
            if name in values and values[name] != NOISE_PRESETS[noise][FIELDS_PHASE_INDEX[name]]:
                raise ConfigError(name, f"is only used with noise = custom (noise is {noise})")
        values["phase_low"], values["phase_high"] = NOISE_PRESETS[noise]
    config = RunConfig(**values)
    validate(config)
    return config


FIELDS_PHASE_INDEX = {"phase_low": 0, "phase_high": 1}


def load_toml(path: str | Path, tables: tuple[str, ...] = ()) -> dict[str, Any]:
    """Read a TOML config file into raw settings. Raises ConfigError naming
    the file for anything unreadable or unknown. `tables`: top-level tables
    that are not settings (a study's [space]); they are returned whole under
    their own key."""
    from .files import MAX_CONFIG_BYTES, read_regular

    path = Path(path)
    try:
        text = read_regular(path, "config file", MAX_CONFIG_BYTES).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), f"cannot read config file ({exc.__class__.__name__})") from None
    except ConfigError:
        raise
    except UserError as exc:
        raise ConfigError(exc.subject, exc.reason) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    except RecursionError:  # arrays or tables nested hundreds deep
        raise ConfigError(str(path), "is not valid TOML for a config: values nested too deeply") from None
    raw: dict[str, Any] = {}
    for key, value in data.items():
        if key in tables:
            raw[key] = value
            continue
        # Section tables ([data], [model], ...) are allowed and flattened.
        items = value.items() if isinstance(value, dict) else [(key, value)]
        for sub_key, sub_value in items:
            name = normalise_key(sub_key)
            if name not in FIELDS:
                raise ConfigError(str(path), f"unknown config key {echo(sub_key)}")
            raw[name] = sub_value
    return raw


PRESETS_DIR = Path(__file__).parent / "presets"


def list_presets() -> list[str]:
    """Named configurations shipped in lstm_core/presets/*.toml."""
    return sorted(p.stem for p in PRESETS_DIR.glob("*.toml"))


def load_preset(name: str) -> dict[str, Any]:
    if name not in list_presets():
        raise ConfigError("preset", f"unknown preset {echo(name)} (available: {', '.join(list_presets()) or 'none'})")
    return load_toml(PRESETS_DIR / f"{name}.toml")


def save_toml(config: RunConfig, path: str | Path) -> None:
    from .files import atomic_write_text

    atomic_write_text(Path(path), config.to_toml())


def load_config_file(path: str | Path) -> RunConfig:
    """Load and validate a TOML config (e.g. a run directory's config.toml)."""
    raw = load_toml(path)
    try:
        return build_config(raw)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.field}", exc.reason) from None

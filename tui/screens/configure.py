"""Configure: a form generated from the config field metadata.

Every field is checked as it changes with `config.parse_value`, and the whole
form with `config.build_config`: the same rules as the CLI flags and TOML
files. The error shows next to its field and Start stays disabled while any
field is invalid.
"""
from __future__ import annotations

from typing import Any, Optional

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, Static

from lstm_core.config import FIELDS, GROUPS, NOISE_PRESETS, RunConfig, build_config, field_type, list_presets, load_preset, load_toml, parse_value, save_toml
from lstm_core.errors import ConfigError, UserError

from .dialogs import PathDialog, failure_text

NO_PRESET = "(none)"


def as_text(value: Any) -> str:
    """A config value as the form shows it (and parse_value reads it back)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, float):
        return f"{value:.12g}"
    return str(value)


def field_widget(name: str) -> Widget:
    spec = FIELDS[name]
    kind = field_type(name)
    default = getattr(RunConfig(), name)
    widget_id = f"field-{name}"
    if kind is bool:
        return Checkbox("", default, id=widget_id, compact=True)
    if "choices" in spec.metadata:
        options = [(choice, choice) for choice in spec.metadata["choices"]]
        return Select(options, value=default, allow_blank=False, id=widget_id, compact=True)
    return Input(as_text(default), id=widget_id, compact=True)


class ConfigureScreen(Screen):
    BINDINGS = [
        Binding("ctrl+r", "start", "Start", priority=True),
        Binding("ctrl+o", "load", "Load", priority=True),
        Binding("ctrl+s", "save", "Save", priority=True),
        Binding("ctrl+d", "defaults", "Defaults", priority=True, show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.config: Optional[RunConfig] = None
        self.errors: dict[str, str] = {}

    # ---- layout ---------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="config-bar"):
            yield Label("Preset", classes="bar-label")
            presets = [(NO_PRESET, NO_PRESET)] + [(p, p) for p in list_presets()]
            yield Select(presets, value=NO_PRESET, allow_blank=False, id="preset", compact=True)
            yield Button("Start ^r", id="start", variant="success", compact=True)
            yield Button("Load ^o", id="load", compact=True)
            yield Button("Save ^s", id="save", compact=True)
        yield Static("", id="config-status")
        with VerticalScroll(id="form"):
            for group, title in GROUPS.items():
                yield Static(title, classes="group-title")
                for name, spec in FIELDS.items():
                    if spec.metadata["group"] != group:
                        continue
                    with Horizontal(classes="field-row", id=f"row-{name}"):
                        yield Label(name, classes="field-label")
                        yield field_widget(name)
                        yield Static("", classes="field-error", id=f"error-{name}")
        yield Static("", id="field-help")
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.sub_title = "Configure"
        self.set_values(self.app.initial_settings)
        first = self.query_one(f"#field-{next(iter(FIELDS))}")
        first.focus()

    # ---- reading and writing the form ---------------------------------------
    def widget(self, name: str) -> Widget:
        return self.query_one(f"#field-{name}")

    def raw_values(self) -> dict[str, Any]:
        raw: dict[str, Any] = {}
        for name in FIELDS:
            raw[name] = self.widget(name).value
        if raw["noise"] != "custom":  # the preset decides the phase range
            raw.pop("phase_low")
            raw.pop("phase_high")
        return raw

    def set_values(self, settings: dict[str, Any]) -> None:
        """Fill the form with the defaults overlaid by `settings` (raw values,
        as read from a TOML file); invalid values show their errors."""
        values = {**RunConfig().to_dict(), **settings}
        with self.prevent(Input.Changed, Select.Changed, Checkbox.Changed):
            for name in FIELDS:
                widget = self.widget(name)
                value = values[name]
                if isinstance(widget, Checkbox):
                    widget.value = bool(value) if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
                elif isinstance(widget, Select):
                    choices = FIELDS[name].metadata["choices"]
                    widget.value = value if value in choices else getattr(RunConfig(), name)
                else:
                    widget.value = as_text(value)
        self.sync_phase_fields()
        self.validate_form()

    def sync_phase_fields(self) -> None:
        noise = self.widget("noise").value
        custom = noise == "custom"
        for index, name in enumerate(("phase_low", "phase_high")):
            widget = self.widget(name)
            widget.disabled = not custom
            if not custom:
                with self.prevent(Input.Changed):
                    widget.value = as_text(NOISE_PRESETS[noise][index])

    def validate_form(self) -> None:
        raw = self.raw_values()
        errors: dict[str, str] = {}
        for name, value in raw.items():
            try:
                parse_value(name, value)
            except ConfigError as exc:
                errors[name] = exc.reason
        config = None
        if not errors:
            try:
                config = build_config(raw)
            except ConfigError as exc:
                errors[exc.field] = exc.reason
        self.errors = errors
        self.config = config
        for name in FIELDS:
            message = errors.get(name, "")
            self.query_one(f"#error-{name}", Static).update(message)
            self.query_one(f"#row-{name}").set_class(bool(message), "invalid")
        self.query_one("#start", Button).disabled = config is None
        status = self.query_one("#config-status", Static)
        if config is None:
            first = next(iter(errors))
            more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
            status.update(f"Invalid: {first}: {errors[first]}{more}")
        else:
            status.update(f"Ready: {config.model} model, {len(config.frequencies)} frequencies, "
                          f"{config.n_samples} samples, {config.epochs} epochs")
        status.set_class(config is None, "invalid")

    # ---- events -----------------------------------------------------------------
    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event) -> None:
        if event.control.id and event.control.id.startswith("field-"):
            self.validate_form()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.control.id == "preset":
            self.apply_preset(str(event.value))
        elif event.control.id == "field-noise":
            self.sync_phase_fields()
            self.validate_form()
        else:
            self.validate_form()

    def on_descendant_focus(self, event) -> None:
        widget_id = event.widget.id or ""
        help_bar = self.query_one("#field-help", Static)
        if widget_id.startswith("field-"):
            name = widget_id.removeprefix("field-")
            help_bar.update(f"{name}: {FIELDS[name].metadata['help']}")
        elif widget_id == "preset":
            help_bar.update("preset: a named configuration from lstm_core/presets")
        else:
            help_bar.update("Tab / shift+Tab move between fields; ctrl+r starts training")

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#load")
    def _load_pressed(self) -> None:
        self.action_load()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    # ---- actions --------------------------------------------------------------
    def apply_preset(self, name: str) -> None:
        if name == NO_PRESET:
            return
        try:
            self.set_values(load_preset(name))
        except UserError as exc:
            self.notify(str(exc), severity="error")
            return
        self.notify(f"Preset {name} loaded")

    def action_start(self) -> None:
        self.validate_form()
        if self.config is None:
            self.notify("Fix the invalid fields first", severity="error")
            return
        self.app.start_training(self.config)

    def action_defaults(self) -> None:
        self.set_values({})
        self.notify("Defaults restored")

    def action_load(self) -> None:
        def loaded(path: str | None) -> None:
            if not path:
                return
            self.load_file(path)

        self.app.push_screen(PathDialog("Load config from TOML file", "freq-lstm.toml"), loaded)

    def load_file(self, path: str) -> bool:
        try:
            settings = load_toml(path)
        except (UserError, OSError) as exc:
            self.notify(failure_text(exc), severity="error", timeout=8)
            return False
        self.set_values(settings)
        self.notify(f"Loaded {path}" + (" (with invalid fields)" if self.errors else ""))
        return True

    def action_save(self) -> None:
        self.validate_form()
        if self.config is None:
            self.notify("Fix the invalid fields before saving", severity="error")
            return

        def chosen(path: str | None) -> None:
            if path:
                self.save_file(path)

        self.app.push_screen(PathDialog("Save config to TOML file", "freq-lstm.toml"), chosen)

    def save_file(self, path: str) -> bool:
        if self.config is None:
            return False
        try:
            save_toml(self.config, path)
        except (UserError, OSError) as exc:  # an unwritable folder, a full disk: named, the form stays
            self.notify(failure_text(exc), severity="error", timeout=8)
            return False
        self.notify(f"Saved {path}")
        return True

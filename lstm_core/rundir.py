"""A run directory and the files in it. Every file is written atomically."""
from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

from .config import RunConfig, load_config_file
from .sysmon import summarise
from .errors import UserError
from .events import EpochRecord, best_record
from .results import Results, TrainingFacts
from .status import RunStatus, is_ended, state_text
from .files import (MAX_JSON_BYTES, MAX_METRICS_BYTES, append_text, atomic_write_json, atomic_write_text,
                    check_real_folder, open_own_file, read_regular, remove_stale_temp_files)

try:  # POSIX; elsewhere a run directory is claimed but not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

CONFIG = "config.toml"
METRICS = "metrics.jsonl"
RESULTS = "results.json"
STATUS = "status.json"
BEST = "best.pt"
LAST = "last.pt"
# flock'ed while a process trains in the directory, so a resume (or the app)
# can tell the run is alive; the lock dies with the process, even on SIGKILL.
# Whatever else rewrites a run's files (a report, the app's export, an
# evaluation) holds it too while it writes. It holds the trainer's pid.
LOCK = ".lock"
TRAINING = "training"
# One line per console write that failed (a closed pipe, a full device):
# the run went on, its output did not.
CONSOLE_LOG = "console.log"
MAX_NAME = 100
T = TypeVar("T")


def _safe_name(text: str) -> str:
    """Only letters, digits, '-', '_' and '.', never a path separator, never
    '.' or '..', never empty: a name that always stays inside its folder."""
    text = re.sub(r"[^A-Za-z0-9._-]+|\.\.+", "-", text)  # separators, spaces and '..' become '-'
    return re.sub(r"-{2,}", "-", text)[:MAX_NAME].strip(".-") or "run"


def timestamped(name: str) -> str:
    """`<YYYYmmdd-HHMMSS>-name`, safe as a folder name."""
    return _safe_name(f"{time.strftime('%Y%m%d-%H%M%S')}-{name}")


def default_run_name(config: RunConfig) -> str:
    label = f"-{config.run_name}" if config.run_name else ""
    return timestamped(f"{config.model}{label}")


def claim_new_path(root: Path, stem: str, claim: Callable[[Path], T]) -> T:
    """`claim(root/stem)`, else `root/stem-2`, `-3`, ...: the first path that
    does not exist and whose claim does not raise FileExistsError (another
    process took it a moment ago)."""
    for n in range(1, 10_000):
        path = root / (stem if n == 1 else f"{stem}-{n}")
        if path.exists():
            continue
        try:
            return claim(path)
        except FileExistsError:
            continue
    raise UserError(str(root), "too many runs with the same timestamp")


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._metrics: Optional[list[EpochRecord]] = None
        self._lock_fd: Optional[int] = None

    # ---- creation -----------------------------------------------------------
    @classmethod
    def create(cls, config: RunConfig, runs_root: str | Path = "runs") -> "RunDir":
        """`config.run_dir` names the directory exactly; it must not exist or
        be empty. Otherwise a new `runs_root/<timestamp>-<model>[-<run_name>][-N]`
        is made. The new RunDir already holds its config.toml and its lock
        (`release()` lets the lock go)."""
        if config.run_dir:
            path = Path(config.run_dir)
            if path.is_symlink():
                raise UserError(str(path), f"is a symbolic link (to {os.readlink(path)}); a run directory is "
                                           "never made through a link: give the folder it points to, or a new path")
            if path.exists() and (not path.is_dir() or any(path.iterdir())):
                raise UserError(str(path), "run directory already exists and is not empty (choose a new --run-dir)")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise UserError(str(path.parent), f"cannot create folder ({exc.strerror})") from None
            try:
                return cls._build(path, config)
            except FileExistsError:
                raise UserError(str(path), "run directory was just taken by another run (choose a new --run-dir)") from None
        root = Path(runs_root)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(str(root), f"cannot create runs directory ({exc.strerror})") from None
        return claim_new_path(root, default_run_name(config), lambda path: cls._build(path, config))

    @classmethod
    def _build(cls, path: Path, config: RunConfig) -> "RunDir":
        """Build the directory under a hidden temporary name (lock, then
        config.toml) and rename it into place. So a run directory never exists
        without its config, even if the process is killed right here; and a
        rename onto a directory that is no longer empty fails, so two runs
        started at the same moment never share one. FileExistsError if
        another run got there first."""
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".new", dir=path.parent))
        except OSError as exc:
            raise UserError(str(path), f"cannot create run directory ({exc.strerror})") from None
        run = cls(staging)
        try:
            run._hold_lock(open_own_file(staging / LOCK, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o644), TRAINING)
            run.write_config(config)
            os.rename(staging, path)
        except BaseException as exc:
            run.release()
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(exc, OSError) and exc.errno in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                raise FileExistsError(str(path)) from None
            if isinstance(exc, OSError):
                raise UserError(str(path), f"cannot create run directory ({exc.strerror})") from None
            raise
        run.path = path
        return run

    def _hold_lock(self, fd: int, role: str) -> None:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise UserError(str(self.path), f"is in use by another freq-tui process: {self.holder_text()}") from None
            except OSError:
                pass  # a filesystem without locks: the directory is still claimed, just not locked
        if role == TRAINING:  # the other writers leave the file as it is (a refused report changes nothing)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    def holder_text(self) -> str:
        """Who holds the lock: "the run is still training, by pid N" while
        status.json says running and its trainer is alive, else another
        writer (a report, an export, an evaluation)."""
        status = self.read_status()
        pid = status.get("pid")
        try:
            fd = open_own_file(self.path / LOCK, os.O_RDONLY)
            try:
                text = os.read(fd, 100).decode("ascii", "replace").strip()
            finally:
                os.close(fd)
            pid = int(text) if text.isdigit() else pid
        except (UserError, OSError):
            pass
        if status.get("status", "running") == "running" and (pid == os.getpid() or _is_freq_tui_process(pid)):
            return f"the run is still training, by pid {pid}"
        return "its results or report are being written by another freq-tui process; try again when it is done"

    def acquire(self, role: str = TRAINING) -> "RunDir":
        """Lock an existing run directory (to resume it, or to rewrite its
        results or report as `role`) and remove the temporary files a killed
        writer may have left. UserError while another process holds it."""
        check_real_folder(self.path, "run directory")
        self._hold_lock(open_own_file(self.path / LOCK, os.O_CREAT | os.O_RDWR, 0o644), role)
        remove_stale_temp_files(self.path)
        return self

    @contextmanager
    def writing(self, role: str) -> Iterator["RunDir"]:
        """Hold the run's lock while `role` ("report", "export", ...)
        rewrites its files: refused while the run trains or another writer
        is at work, so a results.json or report is never older than the
        status.json beside it. A lock this object already holds is kept."""
        if self._lock_fd is not None:
            yield self
            return
        self.acquire(role)
        try:
            yield self
        finally:
            self.release()

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing drops the flock
            self._lock_fd = None

    def _lock_held(self) -> Optional[bool]:
        """Whether a process holds the lock; None when the lock cannot tell
        (no flock on this system or filesystem)."""
        if fcntl is None:
            return None
        try:
            fd = os.open(self.path / LOCK, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return False
        except OSError:  # a link or worse in its place: the lock cannot tell
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        except OSError:  # a filesystem without locks
            return None
        finally:
            os.close(fd)

    def is_active(self) -> bool:
        """The one rule for "is this run live": some process (this one
        included) holds its lock; where locks cannot tell, the pid in
        status.json is alive and is a freq-tui process."""
        held = self._lock_held()
        if held is not None:
            return held
        return _is_freq_tui_process(self.read_status().get("pid"))

    def state(self) -> str:
        """status.json's status, or RunStatus.STALE when it says running (or there is
        none yet) but the writer is gone."""
        status = self.read_status().get("status", RunStatus.RUNNING)
        if status == RunStatus.RUNNING and not self.is_active():
            return RunStatus.STALE
        return status

    def resume_hint(self) -> str:
        return f"continue it with: freq-tui train --resume {self.path} (or R on the app's Runs screen)"

    def check_resumable(self) -> None:
        """UserError unless the run can be resumed: not ended, nobody
        writing it."""
        status = self.read_status().get("status")
        if is_ended(status):
            raise UserError(str(self.path), f"run already {RunStatus(status).text}; nothing to resume (start a new run)")
        if self.is_active():
            raise UserError(str(self.path), f"is in use by another freq-tui process: {self.holder_text()}; "
                                            "attach to it instead (a on Runs)")

    @classmethod
    def open(cls, path: str | Path) -> "RunDir":
        """An existing run directory. One named by a symbolic link (a
        `runs/latest`) is used as the folder it points to: its files are
        written there, never through links inside it."""
        path = Path(path)
        try:
            if path.is_symlink() and path.is_dir():
                path = Path(os.path.realpath(path))
            if not path.exists():
                raise UserError(str(path), "run directory not found")
            if not path.is_dir():
                raise UserError(str(path), "is not a run directory (not a folder)")
            if not (path / CONFIG).is_file():
                raise UserError(str(path), f"not a freq-lstm run directory (no {CONFIG})")
        except OSError as exc:  # another user's folder
            raise UserError(str(path), f"cannot read run directory ({exc.strerror or exc.__class__.__name__})") from None
        return cls(path)

    # ---- files ----------------------------------------------------------------
    def file(self, name: str) -> Path:
        return self.path / name

    @property
    def best_checkpoint(self) -> Path:
        return self.path / BEST

    @property
    def last_checkpoint(self) -> Path:
        return self.path / LAST

    def write_config(self, config: RunConfig) -> None:
        atomic_write_text(self.path / CONFIG, config.to_toml())

    def read_config(self) -> RunConfig:
        return load_config_file(self.path / CONFIG)

    def read_metrics(self) -> list[EpochRecord]:
        """The run's history, one EpochRecord per epoch. Tolerates a missing
        file and skips a line that is not an epoch record of this program
        (EpochRecord.from_json: not JSON, a key missing or of the wrong type)."""
        records = []
        if not (self.path / METRICS).exists():
            return []
        text = read_regular(self.path / METRICS, "metrics file", MAX_METRICS_BYTES).decode("utf-8", errors="replace")
        for line in text.splitlines():
            try:
                records.append(EpochRecord.from_json(json.loads(line)))
            except (ValueError, RecursionError):  # JSONDecodeError is a ValueError
                continue
        return records

    def append_metrics(self, record: EpochRecord) -> None:
        # Rewritten whole and atomically: a kill never leaves half a line.
        if self._metrics is None:
            self._metrics = self.read_metrics()
        self.rewrite_metrics([*self._metrics, record])

    def rewrite_metrics(self, records: Sequence[EpochRecord]) -> None:
        """Replace the file (on resume: with the history kept in last.pt,
        which may be one epoch ahead of a metrics file cut short by a kill)."""
        self._metrics = list(records)
        atomic_write_text(self.path / METRICS, "".join(json.dumps(r.to_json()) + "\n" for r in self._metrics))

    def write_status(self, status: str, **extra: Any) -> None:
        record = {**self.read_status(), **extra, "status": status, "updated": time.time(), "pid": os.getpid()}
        atomic_write_json(self.path / STATUS, record)

    def note_console(self, text: str) -> None:
        """One line in console.log: output that could not be written."""
        append_text(self.path / CONSOLE_LOG, f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")

    def read_status(self) -> dict[str, Any]:
        """status.json, or {} where it is missing, unreadable or fails its schema."""
        record = _read_json(self.path / STATUS)
        return record if schema_problem(record, STATUS_SCHEMA) is None else {}

    def write_results(self, results: Results) -> None:
        atomic_write_json(self.path / RESULTS, results.to_json())

    def read_results(self) -> Optional[Results]:
        """results.json, or None where it is missing or not JSON (`report`
        then writes a new one). One that is JSON but not results (a key
        missing or of the wrong type) is a UserError naming the file and the
        key: nothing reads it, and nothing overwrites what it still holds."""
        record = _read_json(self.path / RESULTS)
        if record is None:
            return None
        try:
            return Results.from_json(record)
        except ValueError as exc:
            raise UserError(str(self.path / RESULTS), f"damaged ({exc}); move it aside to write a new one") from None

    def training_facts(self) -> TrainingFacts:
        """How the run's model was trained: from results.json, else (a run
        killed before it wrote one) from status.json and metrics.jsonl."""
        saved = self.read_results()
        if saved is not None:
            return saved.training
        status, history = self.read_status(), self.read_metrics()
        best = best_record(history)
        return TrainingFacts(
            status=state_text(self.state()), stop_reason=status.get("message"),
            epochs_run=history[-1].epoch if history else 0,
            best_epoch=best and best.epoch, best_val_loss=best and best.val_loss,
            train_time_s=sum(r.epoch_time for r in history) if history else None,
            model=status.get("model"), system=summarise(history))


_NUMBER = (int, float)
# The keys other code reads from status.json, and the types it relies on
# (None is allowed for each: "not known"). metrics.jsonl's is EpochRecord.
STATUS_SCHEMA: dict[str, Any] = {
    "status": str, "message": str, "pid": int, "updated": _NUMBER, "started": _NUMBER, "model": str,
    "test_mse": _NUMBER, "verdict": str, "report_error": str, "resumed_from_epoch": int,
}
def schema_problem(record: Any, schema: dict[str, Any]) -> Optional[str]:
    """What is wrong with a JSON record for `schema` (None: nothing)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for key, kinds in schema.items():
        value = record.get(key)
        if value is not None and (not isinstance(value, kinds) or isinstance(value, bool)):
            return f"'{key}' is a {type(value).__name__}"
    return None


def _read_json(path: Path) -> Any:
    """The file's JSON; None where it is missing, unreadable, not JSON, too big or not a file."""
    try:
        return json.loads(read_regular(path, "JSON file", MAX_JSON_BYTES).decode("utf-8"))
    except (UserError, ValueError, RecursionError):
        return None


def _is_freq_tui_process(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # no /proc here: an alive pid is all we can know
        return True
    args = cmdline.split(b"\0")
    return any(a.endswith(b"freq-tui") for a in args) or b"lstm_core" in args or b"tui" in args  # python -m ...

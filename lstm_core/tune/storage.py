"""Where a study lives, and who is working on which trial.

Default: an Optuna journal file in the study directory (no server; the
processes that share the directory share the study). `--storage URL`
(postgresql://, mysql://, sqlite:///) goes through Optuna's RDB storage, so
boxes that reach the database share one study.

Each running trial carries its owner (host, pid, process start time) and a
heartbeat written every `heartbeat_s`. Before a trial is asked for, trials
whose owner is gone (a process on this host that no longer exists) or whose
heartbeat is older than STALE_BEATS beats are marked FAIL: a process killed
with SIGKILL leaves a failed trial, and the next trial is asked for in its
place. The ask itself happens under a lock file in the study directory, so
the processes sharing it never ask for more than `--trials` between them.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
import time
from pathlib import Path
from typing import Iterator, Optional

from ..errors import UserError
from ..files import check_own_file, open_own_file

JOURNAL = "study.journal"
ASK_LOCK = "ask.lock"
STALE_BEATS = 3
RDB_SCHEMES = ("postgresql", "mysql", "sqlite")
DB_EXTRA = "pip install 'freq-lstm[tune-db]'"


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}" if ":" in credentials else url
    return url


def check_url(url: str) -> None:
    """A storage URL's form (before anything is created)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0] if "://" in url else ""
    if scheme not in RDB_SCHEMES:
        raise UserError("--storage", f"must be a postgresql://, mysql:// or sqlite:/// URL (got {shown_url(url)!r}); "
                                     f"leave it out for the journal file in --out")


def open_storage(url: str, out: Path):
    """The Optuna storage. Raises UserError (one line) when it cannot be reached."""
    import optuna

    if not url:
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        path = out / JOURNAL
        check_own_file(path)  # Optuna appends to it: never through a link
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))
        except OSError as exc:
            raise UserError(str(path), f"cannot open the study journal ({exc.strerror})") from None
    check_url(url)
    try:
        return _rdb(url)
    except ImportError as exc:  # optuna re-raises the driver's ModuleNotFoundError as an ImportError
        missing = getattr(exc.__cause__, "name", None) or "its driver"
        raise UserError("--storage", f"{shown_url(url)} needs the database driver {missing} ({DB_EXTRA}; "
                                     f"MySQL: pip install pymysql and a mysql+pymysql:// URL)") from None
    except Exception as exc:  # sqlalchemy's errors: unreachable host, refused login, no such database
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise UserError("--storage", f"cannot reach {shown_url(url)}: {reason[0] if reason else exc.__class__.__name__}"
                        ) from None


def _rdb(url: str, attempts: int = 5):
    """RDBStorage; processes that meet a new database at the same moment all
    create Optuna's tables, and the losers of that race try again."""
    import optuna

    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url))
        except Exception as exc:
            text = str(exc)
            if attempt == attempts - 1 or not ("duplicate key" in text or "already exists" in text):
                raise
            time.sleep(0.5 + attempt)


def _engine_kwargs(url: str) -> dict:
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": 5}}
    if url.startswith("mysql"):
        return {"connect_args": {"connect_timeout": 5}}
    return {}


@contextlib.contextmanager
def ask_lock(out: Path) -> Iterator[None]:
    """One process at a time counts the trials and asks for the next."""
    fd = open_own_file(out / ASK_LOCK, os.O_RDWR | os.O_CREAT, 0o644)  # never through a link
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _process_start(pid: int) -> Optional[float]:
    """When process `pid` started (0.0 where psutil is missing and the
    process exists); None where there is no such process."""
    try:
        import psutil
    except ModuleNotFoundError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0.0
    try:
        return psutil.Process(pid).create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied:
        return 0.0


def owner() -> dict:
    pid = os.getpid()
    return {"host": socket.gethostname(), "pid": pid, "pid_start": _process_start(pid)}


def claim(study, trial_id: int) -> None:
    storage = study._storage
    for key, value in {**owner(), "heartbeat": time.time()}.items():
        storage.set_trial_system_attr(trial_id, key, value)


def is_stale(attrs: dict, heartbeat_s: float, now: float) -> bool:
    if attrs.get("host") == socket.gethostname() and attrs.get("pid"):
        start = _process_start(int(attrs["pid"]))
        recorded = attrs.get("pid_start")
        if start is None or (start and recorded and abs(start - recorded) > 1.0):
            return True  # the process that ran it is gone
    beat = attrs.get("heartbeat")
    return beat is not None and now - float(beat) > STALE_BEATS * heartbeat_s


def fail_stale(study, heartbeat_s: float) -> list[int]:
    """Mark FAIL the running trials nobody runs any more; their numbers."""
    import optuna

    failed = []
    now = time.time()
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        if is_stale(trial.system_attrs, heartbeat_s, now):
            try:
                study._storage.set_trial_user_attr(trial._trial_id, "failed_because",
                                                   "its process stopped (killed, or its machine went away)")
                study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
                failed.append(trial.number)
            except optuna.exceptions.UpdateFinishedTrialError:
                pass  # another process got there first
    return failed


@contextlib.contextmanager
def heartbeat(study, trial_id: int, interval_s: float) -> Iterator[None]:
    """Write the trial's heartbeat every interval_s while the block runs."""
    done = threading.Event()

    def beat() -> None:
        while not done.wait(interval_s):
            try:
                study._storage.set_trial_system_attr(trial_id, "heartbeat", time.time())
            except Exception:  # a storage hiccup: the next beat tries again
                pass

    thread = threading.Thread(target=beat, name="tune-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()

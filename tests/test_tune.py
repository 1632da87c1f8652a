"""freq-tui tune: the space (from the fields and from TOML), pruning, the
objective never drawing a test set, two processes sharing one journal, a
killed process's trial failed and the study resumed, bad storage."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest

from lstm_core import cli
from lstm_core.config import RunConfig, build_config
from lstm_core.errors import UserError
from lstm_core.stopping import StopFlag
from lstm_core.tune.objective import run_trial
from lstm_core.tune.space import Dimension, default_space, parse_space
from lstm_core.tune.storage import JOURNAL, open_storage
from lstm_core.tune.study import StudySpec, make_pruner, open_study, study_worker

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--duration", "0.4", "--fs", "100", "--frequencies", "2,5", "--hidden-size", "8", "--batch-size", "16",
        "--epochs", "2", "--device", "cpu", "--noise", "informative"]
BASE = dict(duration=0.4, fs=100.0, frequencies=[2.0, 5.0], epochs=2, hidden_size=8, batch_size=16, device="cpu",
            noise="informative")


def write_space(path: Path, body: str) -> Path:
    path.write_text("[space]\n" + body)
    return path


def load(out: Path, name: str = "freq-lstm"):
    return optuna.load_study(study_name=name, storage=open_storage("", out))


# ---- the space ---------------------------------------------------------------
def test_the_default_space_is_what_the_fields_declare():
    stateful = {d.name: d for d in default_space(RunConfig())}
    assert stateful["lr"] == Dimension("lr", 1e-4, 3e-2, True)
    assert stateful["hidden_size"] == Dimension("hidden_size", 8, 256, True)
    assert "sequence_length" not in stateful and "dropout" not in stateful  # they do nothing here
    assert not {"seed", "val_seed", "test_seed", "epochs"} & set(stateful)
    windows = {d.name for d in default_space(build_config({"model": "sequence", "num_layers": 2}))}
    assert {"sequence_length", "dropout"} <= windows


def test_a_space_table_names_ranges_choices_and_declared_ranges():
    space = parse_space({"lr": [1e-4, 1e-2, "log"], "hidden-size": [16, 64], "scheduler": ["plateau", "cosine"],
                         "chrono_init": True, "carry_state": True})
    by_name = {d.name: d for d in space}
    assert by_name["lr"] == Dimension("lr", 1e-4, 1e-2, True)
    assert by_name["hidden_size"] == Dimension("hidden_size", 16, 64, False)
    assert by_name["scheduler"].choices == ("plateau", "cosine")
    assert by_name["chrono_init"] == Dimension("chrono_init", 0, 2000, False)
    assert by_name["carry_state"].choices == (False, True)
    assert isinstance(by_name["hidden_size"].distribution(), optuna.distributions.IntDistribution)


@pytest.mark.parametrize("entry, words", [
    ("learning_rate = [0.001, 0.01]", "unknown setting"),
    ("lr = [0.01, 0.001]", "empty or inverted range"),
    ("hidden_size = [32, 32]", "empty or inverted range"),
    ("lr = [-1.0, 0.01]", "must be > 0"),
    ("dropout = [0.0, 1.5]", "must be >= 0 and < 1"),
    ("hidden_size = [8.5, 64]", "must be a whole number"),
    ("scheduler = [\"plateau\", \"linear\"]", "must be one of"),
    ("weight_decay = [0.0, 0.01, \"log\"]", "log range must start above 0"),
    ("test_seed = [1, 9]", "is not searched"),
    ("device = [\"cpu\", \"cuda\"]", "not a training setting"),
    ("lr_factor = true", "declares no range"),
])
def test_a_bad_space_is_one_line_exit_2_and_nothing_created(tmp_path, capsys, entry, words):
    space = write_space(tmp_path / "space.toml", entry + "\n")
    out = tmp_path / "study"
    code = cli.main(["tune", *TINY, "--space", str(space), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_a_space_in_the_config_file_and_settings_outside_space_files(tmp_path, capsys):
    config = tmp_path / "study.toml"
    config.write_text('epochs = 2\n[space]\nlr = [0.5, 0.1]\n')
    assert cli.main(["tune", *TINY, "--config", str(config), "--out", str(tmp_path / "a")]) == 2
    assert "space: lr" in capsys.readouterr().err
    mixed = tmp_path / "mixed.toml"
    mixed.write_text('epochs = 2\n[space]\nlr = [0.001, 0.01]\n')
    assert cli.main(["tune", *TINY, "--space", str(mixed), "--out", str(tmp_path / "b")]) == 2
    assert "besides [space]" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_time_needs_a_target(tmp_path, capsys):
    assert cli.main(["tune", *TINY, "--objective", "time", "--out", str(tmp_path / "s")]) == 2
    assert "target_mse" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def has_module(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


@pytest.mark.parametrize("url, words", [
    ("redis://localhost/0", "must be a postgresql://"),
    pytest.param("postgresql://user:secret@127.0.0.1:1/study", "cannot reach postgresql://user:***@127.0.0.1:1/study",
                 marks=pytest.mark.skipif(not has_module("psycopg"), reason="needs freq-lstm[tune-db] (psycopg)")),
    ("sqlite:////no/such/folder/study.db", "cannot reach sqlite:////no/such/folder/study.db"),
])
def test_bad_storage_is_one_line_exit_2_and_no_study_directory(tmp_path, capsys, url, words):
    out = tmp_path / "study"
    assert cli.main(["tune", *TINY, "--storage", url, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.strip().splitlines()) == 1, err
    assert "secret" not in err
    assert not out.exists()


def test_a_missing_database_driver_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as where freq-lstm[tune-db] is not installed
    out = tmp_path / "study"
    assert cli.main(["tune", *TINY, "--storage", "postgresql://user:secret@127.0.0.1:1/study", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "needs the database driver psycopg" in err and "freq-lstm[tune-db]" in err, err
    assert len(err.strip().splitlines()) == 1 and "secret" not in err
    assert not out.exists()


# ---- trials --------------------------------------------------------------------
def spec_for(out: Path, **overrides) -> StudySpec:
    fields = dict(out=str(out), storage="", study_name="freq-lstm", base=build_config(BASE).to_dict(),
                  space=parse_space({"lr": [1e-3, 1e-2, "log"]}), seed_sets=1, trials=2, pruner="none")
    fields.update(overrides)
    return StudySpec(**fields)


def test_the_median_pruner_waits_a_tenth_of_the_schedule(tmp_path):
    for epochs, warmup in ((200, 20), (40, 4), (10, 3)):
        spec = spec_for(tmp_path, base=build_config({**BASE, "epochs": epochs}).to_dict(), pruner="median")
        pruner = make_pruner(spec)
        study = optuna.create_study(pruner=pruner)
        for _ in range(4):  # complete trials that were far better at every epoch
            done = study.ask()
            for step in range(1, epochs + 1):
                done.report(1e-6, step)
            study.tell(done, 1e-6)
        trial = study.ask()
        pruned_at = None
        for step in range(1, epochs + 1):
            trial.report(1.0, step)
            if trial.should_prune():
                pruned_at = step
                break
        assert pruned_at == warmup, (epochs, pruned_at)  # at the end of the warm-up, not before


def test_a_pruned_trial_stops_at_once_and_is_recorded_pruned(tmp_path):
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1e-9))  # prunes every value
    trial = study.ask({"lr": optuna.distributions.FloatDistribution(1e-3, 1e-2, log=True)})
    base = build_config({**BASE, "epochs": 20, "patience": 20}).to_dict()
    result = run_trial(trial, base, tmp_path, 2, "median", StopFlag())
    assert result.state == "pruned"
    run = tmp_path / "trial-0000-set-0"
    assert (run / "metrics.jsonl").read_text().count("\n") == 1  # one epoch of 20, then it stopped
    assert not (tmp_path / "trial-0000-set-1").exists()  # the next seed set never started
    assert json.loads((run / "status.json").read_text())["status"] == "cancelled"  # stopped by the pruner: resumable like any stopped run


def test_the_objective_never_draws_or_evaluates_a_test_set(tmp_path, monkeypatch):
    import lstm_core.data
    import lstm_core.runner

    real = lstm_core.data.generate_for

    def no_test(config, seed):
        if seed == config.test_seed:
            raise AssertionError("a trial drew the test set")
        return real(config, seed)

    def no_evaluation(*args, **kwargs):
        raise AssertionError("a trial evaluated on the test set")

    monkeypatch.setattr(lstm_core.data, "generate_for", no_test)
    monkeypatch.setattr(lstm_core.runner, "evaluate_model", no_evaluation)
    spec = spec_for(tmp_path, seed_sets=2)
    open_study(spec, create=True)
    status, _, done = study_worker(spec, lambda update: None, StopFlag())
    assert (status, done) == ("finished", 2)
    trials = load(tmp_path).get_trials()
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert all(t.value == t.user_attrs["val_mse_median"] for t in trials)
    assert not list(tmp_path.rglob("results.json"))  # no evaluation, no report


def test_the_confirmation_trains_both_on_fresh_seeds_and_reuses_only_the_same_settings(tmp_path):
    from lstm_core.rundir import RunDir
    from lstm_core.tune.confirm import run_confirm

    base = build_config(BASE).to_dict()
    best = {**base, "lr": 3e-3}
    lines = []
    result = run_confirm(tmp_path, 7, {"best": best, "base": base}, 1, 1, StopFlag(), lines.append)
    assert [line.split(":")[0] for line in lines] == ["confirm best set 0", "confirm base set 0"]
    for label, settings in (("best", best), ("base", base)):
        run = result[label].runs[0]
        config = RunDir(tmp_path / f"confirm-0007-{label}-set-0").read_config()
        assert (config.seed, config.val_seed, config.test_seed) == (3000, 5000, 6000)  # none a trial used
        assert config.train_seed == settings["train_seed"] and config.lr == settings["lr"]  # the config's own data
        assert run.test_mse > 0 and result[label].n == 1 and result[label].test_mse_median == run.test_mse
    lines.clear()
    again = run_confirm(tmp_path, 7, {"best": best, "base": base}, 1, 1, StopFlag(), lines.append)
    assert lines == [] and again["best"] == result["best"]  # read, not trained again
    changed = {**best, "lr": 5e-3}  # the same folder name, other settings: trained again
    run_confirm(tmp_path, 7, {"best": changed, "base": base}, 1, 1, StopFlag(), lines.append)
    assert [line.split(":")[0] for line in lines] == ["confirm best set 0"]
    assert RunDir(tmp_path / "confirm-0007-best-set-0").read_config().lr == 5e-3


@pytest.mark.parametrize("best", sorted((Path(__file__).parents[1] / "bench" / "studies").glob("*/best.toml")),
                         ids=lambda path: path.parent.name)
def test_the_committed_studies_best_configs_load(best):
    from lstm_core.config import load_config_file

    config = load_config_file(best)  # what `freq-tui train --config best.toml` reads
    assert config.epochs >= 1


def test_the_history_figure_ticks_whole_trial_numbers(monkeypatch):
    from lstm_core.tune import report

    study = optuna.create_study()
    for value in (0.0006, 0.00036, 0.0005, 0.0007):
        study.add_trial(optuna.trial.create_trial(value=value))
    figures = []
    monkeypatch.setattr(report, "_png", lambda figure: figures.append(figure) or b"")
    report.history_png(study, "worst")
    ticks = figures[0].axes[0].get_xticks()
    assert len(ticks) >= 4 and all(float(tick).is_integer() for tick in ticks)


def test_a_link_in_place_of_a_confirmation_run_is_refused_and_its_target_kept(tmp_path):
    from lstm_core.tune.confirm import run_confirm

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "mine.txt").write_text("keep")
    out = tmp_path / "study"
    out.mkdir()
    (out / "confirm-0007-best-set-0").symlink_to(outside)
    with pytest.raises(UserError, match="symbolic link"):
        run_confirm(out, 7, {"best": build_config(BASE).to_dict()}, 1, 1, StopFlag(), lambda line: None)
    assert [p.name for p in outside.iterdir()] == ["mine.txt"] and (outside / "mine.txt").read_text() == "keep"


def test_a_study_of_another_space_is_refused(tmp_path):
    spec = spec_for(tmp_path)
    open_study(spec, create=True)
    other = spec_for(tmp_path, space=parse_space({"lr": [1e-3, 2e-2, "log"]}))
    with pytest.raises(UserError, match="another space"):
        open_study(other, create=True)


# ---- processes -----------------------------------------------------------------
def test_two_processes_on_one_journal_share_the_study(tmp_path):
    space = write_space(tmp_path / "space.toml", "lr = [0.001, 0.01, \"log\"]\n")
    out = tmp_path / "study"
    args = [*TINY, "--duration", "1", "--epochs", "3", "--space", str(space), "--trials", "6", "--out", str(out),
            "--pruner", "none", "--confirm-seeds", "0", "--seed-sets", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    # one process with two worker processes of its own, one with none
    procs = [subprocess.Popen([sys.executable, "-m", "lstm_core", "tune", *args, "--jobs", jobs], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for jobs in ("2", "1")]
    outputs = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    trials = load(out).get_trials()
    assert sorted(t.number for t in trials) == list(range(6))  # none lost, none twice
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.system_attrs["pid"] for t in trials}) >= 2  # trials from more than one process
    runs = sorted(p.parent.name for p in out.glob("*/config.toml"))
    assert runs == [f"trial-{n:04d}-set-0" for n in range(6)]
    listing = subprocess.run([sys.executable, "-m", "lstm_core", "runs", "--runs-root", str(out)],
                             capture_output=True, text=True, env=env)
    assert listing.returncode == 0 and all(f"trial-{n:04d}-set-0" in listing.stdout for n in range(6))


def test_a_killed_process_leaves_a_failed_trial_and_the_same_command_resumes(tmp_path):
    space = write_space(tmp_path / "space.toml", "lr = [0.001, 0.01, \"log\"]\n")
    out = tmp_path / "study"
    args = ["tune", *TINY, "--epochs", "150", "--patience", "150", "--space", str(space), "--trials", "2",
            "--out", str(out), "--confirm-seeds", "0", "--seed-sets", "1", "--pruner", "none"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen([sys.executable, "-m", "lstm_core", *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 90
    while not (out / "trial-0000-set-0" / "metrics.jsonl").exists():  # trial 0 is training
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.2)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert load(out).get_trials()[0].state == optuna.trial.TrialState.RUNNING  # as the kill left it
    second = subprocess.run([sys.executable, "-m", "lstm_core", *args], capture_output=True, text=True, env=env,
                            timeout=120)
    assert second.returncode == 0, second.stderr
    trials = load(out).get_trials()
    assert trials[0].state == optuna.trial.TrialState.FAIL
    assert "its process stopped" in trials[0].user_attrs["failed_because"]
    assert [t.state for t in trials[1:]] == [optuna.trial.TrialState.COMPLETE] * 2
    assert len(trials) == 3 and (out / JOURNAL).is_file()

"""Following a run another process writes posts the messages a live run
posts; the worker's epoch coalescing; the Train screen's widgets change only
when what they show does."""
from __future__ import annotations

import time

import numpy as np

from lstm_core.config import build_config
from lstm_core.events import BatchProgress, EpochEnd, EpochRecord, Preview, RunEnded
from lstm_core.rundir import RunDir
from lstm_core.status import RunStatus
from lstm_core.runner import run_training
from tui.app import FreqApp
from tui.follow import RunFollower
from tui.messages import BatchesDone, EpochsDone, TrainerStopped, TrainingEnded, TrainingStarted
from tui.widgets.training import LossChart, RunLog, WaveChart
from tui.worker import EPOCH_POST_INTERVAL_S, EventBridge

from test_hangup import wait_until

TINY = {"duration": 0.2, "fs": 100.0, "epochs": 3, "hidden_size": 8, "device": "cpu"}


def test_a_followed_run_posts_what_its_live_run_posted(tmp_path):
    live = []
    bridge = EventBridge(live.append, "", clock=lambda: 0.0)  # one clock reading: every epoch is held back...
    outcome = run_training(build_config(TINY), runs_root=tmp_path, on_event=bridge)
    bridge.flush()  # ...until the end, as _work does
    assert [type(m) for m in live][0] is TrainingStarted and BatchesDone in {type(m) for m in live}
    live_epochs = [r for m in live if isinstance(m, EpochsDone) for r in m.records]

    followed = []
    follower = RunFollower(RunDir.open(outcome.run_dir.path), followed.append)
    assert follower.poll() is False  # the run has ended: nothing more to look at
    assert [type(m) for m in followed] == [EpochsDone, TrainingEnded]
    epochs, ended = followed
    assert epochs.records == live_epochs == list(outcome.training.history)
    assert epochs.run_dir == str(outcome.run_dir.path)
    assert epochs.preview.output.shape == epochs.preview.target.shape == (4, epochs.preview.t.shape[0])
    training = ended.outcome.training
    assert (training.status, training.message, training.epochs_run, training.best_epoch, training.best_val_loss) == (
        outcome.training.status, outcome.training.message, outcome.training.epochs_run, outcome.training.best_epoch,
        outcome.training.best_val_loss)
    assert ended.outcome.results == outcome.results


def test_a_live_run_is_followed_until_its_writer_is_gone(tmp_path):
    config = build_config(TINY)
    run = RunDir.create(config, tmp_path)  # holds the lock: this process is its writer
    run.write_config(config)
    run.write_status("running", started=time.time(), model="stateful")
    posted = []
    follower = RunFollower(RunDir.open(run.path), posted.append)
    assert follower.poll() is True and posted == []  # running, no epoch yet

    record = EpochRecord(1, 0.52, 0.51, 1e-3, 0.1, True)
    run.append_metrics(record)
    assert follower.poll() is True
    assert [type(m) for m in posted] == [EpochsDone] and posted[0].records == [record]
    assert posted[0].preview is None  # no last.pt yet
    assert follower.poll() is True and len(posted) == 1  # nothing new

    run.release()  # as a killed writer's lock goes
    assert follower.poll() is False
    ended = posted[-1]
    assert isinstance(ended, TrainingEnded) and ended.outcome.training.status == RunStatus.STALE
    assert ended.outcome.training.message.startswith("process gone; continue it with: freq-tui train --resume")
    assert ended.outcome.results is None and ended.outcome.training.epochs_run == 1


def test_a_stopped_follower_posts_nothing(tmp_path):
    outcome = run_training(build_config(TINY), runs_root=tmp_path)
    posted = []
    follower = RunFollower(RunDir.open(outcome.run_dir.path), posted.append)
    follower.stop()
    follower.follow()  # returns at once
    assert posted == []


def test_epochs_wait_for_their_second_and_go_with_the_next_batch_progress():
    posted, now = [], [100.0]
    bridge = EventBridge(posted.append, "runs/x", clock=lambda: now[0])
    records = [EpochRecord(e, 0.5, 0.4, 1e-3, 0.1, True) for e in (1, 2)]
    bridge(EpochEnd(records[0], None))
    assert [type(m) for m in posted] == [EpochsDone]  # the first goes at once
    bridge(EpochEnd(records[1], None))
    bridge(BatchProgress(3, 1, 10, 0.3))
    assert [type(m) for m in posted] == [EpochsDone, BatchesDone]  # epoch 2 waits
    now[0] += EPOCH_POST_INTERVAL_S
    bridge(BatchProgress(3, 2, 10, 0.3))
    assert [type(m) for m in posted] == [EpochsDone, BatchesDone, EpochsDone, BatchesDone]
    assert posted[2].records == [records[1]] and posted[2].run_dir == "runs/x"
    bridge(RunEnded("finished", "", 2, 2, 0.4, 0.2))
    assert isinstance(posted[-1], TrainerStopped)


async def test_a_message_of_another_run_changes_nothing(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        app.session.run_dir = "runs/now"
        app.on_epochs_done(EpochsDone([EpochRecord(1, 0.5, 0.4, 1e-3, 0.1, True)], None, run_dir="runs/before"))
        await pilot.pause()
        assert app.session.history == []


async def test_train_widgets_change_only_when_what_they_show_does(tmp_path):
    app = FreqApp(TINY, runs_root=tmp_path / "runs")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.switch_mode("train")
        await pilot.pause()
        screen = app.screen
        loss, wave, log = screen.query_one(LossChart), screen.query_one(WaveChart), screen.query_one(RunLog)
        history = [EpochRecord(1, 0.5, 0.4, 1e-3, 0.1, True)]
        loss.plot(history, False)
        loss.plot(history, False)
        assert loss.draws == 1
        history.append(EpochRecord(2, 0.4, 0.3, 1e-3, 0.1, True))
        loss.plot(history, False)
        loss.plot(list(history), False)  # another run's history: drawn again
        assert loss.draws == 3
        t = np.linspace(0.0, 1.0, 50)
        preview = Preview(t, np.stack([t, t]), np.stack([t, -t]))
        for index in (0, 0, 1, 1):
            wave.plot(preview, index, [1.0, 3.0])
        assert wave.draws == 2 and wave.shown_title.startswith("f2 3 Hz")

        lines = [f"line {i}" for i in range(10)]
        log.show(lines)  # more lines than the log's height: its scrollbar appears (a layout)
        await pilot.pause()
        layouts = []
        screen.screen_layout_refresh_signal.subscribe(screen, layouts.append, immediate=True)
        for i in range(10, 20):
            lines.append(f"line {i}")
            log.show(lines)
            await pilot.pause()
        assert layouts == []  # a new line lays out nothing but the log
        assert [strip.text for strip in log.lines] == lines
        assert log.scroll_y == log.max_scroll_y > 0  # still following the end
        log.show(["a new run"])
        await pilot.pause()
        assert [strip.text for strip in log.lines] == ["a new run"]


async def test_quitting_the_app_stops_its_follower(tmp_path):
    config = build_config(TINY)
    run = RunDir.create(config, tmp_path)  # live: this process holds its lock
    run.write_config(config)
    run.write_status("running", started=time.time(), model="stateful")
    app = FreqApp(TINY, runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.follow_run(str(run.path))
        await pilot.pause()
        follower = app._follower
        assert follower is not None and not follower.stopped.is_set()
        await pilot.press("ctrl+q")
    assert follower.stopped.is_set()  # else its thread keeps looking, and the process never ends


async def test_following_an_ended_run_shows_it_and_makes_it_the_one_to_evaluate(tmp_path):
    outcome = run_training(build_config(TINY), runs_root=tmp_path)
    app = FreqApp(TINY, runs_root=tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.follow_run(str(outcome.run_dir.path))
        await wait_until(pilot, lambda: app._follower is None, 10)  # TrainingEnded handled: after the epochs
        assert [r.epoch for r in app.session.history] == [1, 2, 3] and app.session.preview is not None
        assert app.evaluation_target == str(outcome.run_dir.path) and app._follower is None
        # the charts draw on their next refresh, which may come after the message
        charts = app.screen.query_one(WaveChart), app.screen.query_one(LossChart)
        await wait_until(pilot, lambda: all(chart.draws >= 1 for chart in charts), 10)
        assert app.session.log[-1] == "done (finished). Press e to evaluate."

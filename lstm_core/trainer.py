"""The training loop: Adam, ReduceLROnPlateau, early stopping, gradient
clipping, best and last checkpoints, progress events, cooperative stop."""
from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Optional

import torch

from . import cuda_graph, feeding, precision
from .averaging import WeightAverage
from .checkpoint import save_checkpoint
from .config import RunConfig
from .data import SignalSet, splits_for
from .device import resolve_device
from .events import BatchProgress, EpochEnd, EpochRecord, EventCallback, Preview, RunEnded, RunStarted
from .models import build_model
from .rundir import RunDir
from .status import RunStatus
from .stopping import StopFlag
from .sysmon import SystemSampler
from .update import apply_update

PROGRESS_INTERVAL_S = 0.2  # batch events (and the loss sync they need) at most this often


def to_device(signal: SignalSet, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    inputs, targets = signal.streams()
    return torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device)


class Trainer:
    def __init__(
        self,
        config: RunConfig,
        run_dir: Optional[RunDir] = None,
        on_event: Optional[EventCallback] = None,
        stop: Optional[StopFlag] = None,
        splits: Optional[dict[str, SignalSet]] = None,
    ):
        self.config = config
        self.run_dir = run_dir
        self.on_event = on_event or (lambda event: None)
        self.stop = stop or StopFlag()
        self.device = resolve_device(config.device)
        self.splits = splits or splits_for(config)
        self.n_frequencies = self.splits["train"].n_frequencies

        if self.device.type == "cpu" and config.cpu_threads > 0:
            # Process-wide. The model is small: on a busy 2-core machine two
            # threads made a training step several times slower than one.
            torch.set_num_threads(config.cpu_threads)
        torch.manual_seed(config.seed)
        self.generator = torch.Generator().manual_seed(config.seed)  # window shuffling
        self.model = build_model(config, self.n_frequencies).to(self.device)
        # On CUDA, chunk updates are replayed from a graph where they can be
        # (cuda_graph.py); why not, otherwise, is kept for results.json.
        self.eager_reason = cuda_graph.unsupported_reason(config, self.device)
        # The fused Adam does the same update in one kernel instead of a
        # handful of small ops per parameter (6x faster per step on CPU).
        # capturable: its step counter lives on the GPU, as a graph needs.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
                                          fused=self.device.type in ("cpu", "cuda"),
                                          capturable=self.eager_reason is None)
        self.graphed = None
        if self.eager_reason is None:
            self.graphed = cuda_graph.GraphedChunkUpdates(self.model, self.optimizer, config.grad_clip)
        # A preset's cosine_epochs with fewer --epochs: the cosine fits the run.
        self.cosine_epochs = min(config.cosine_epochs or config.epochs, config.epochs)
        if config.scheduler == "cosine":
            # To 0 over cosine_epochs; with curriculum_lr_min it waits
            # there while the curriculum still grows (_step_cosine).
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=self.cosine_epochs)
        else:
            self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                self.optimizer, mode="min", factor=config.lr_factor, patience=config.lr_patience
            )
        # Tensors are built once and stay on the training device.
        self.train_x, self.train_y = to_device(self.splits["train"], self.device)
        self.val_x, self.val_y = to_device(self.splits["val"], self.device)
        self.curriculum = feeding.Curriculum.for_config(config, self.train_y.shape[1])
        # ema_decay > 0: validation, the best weights and the evaluation use
        # an average of the weights over the last updates (averaging.py).
        self.average = WeightAverage(self.model, config.ema_decay) if config.ema_decay > 0 else None

        self.epoch = 0  # epochs completed
        self.best_val_loss = math.inf
        self.best_epoch = 0
        self.epochs_without_improvement = 0
        self.history: list[EpochRecord] = []
        self.best_state: Optional[dict[str, torch.Tensor]] = None
        self.system = SystemSampler(str(self.device))  # the machine's figures in each epoch's record

    # ---- state for checkpoints / resume ------------------------------------
    # Everything an epoch boundary needs to continue exactly. No stream
    # state: every epoch starts each stream from its reset at t = 0, and a
    # stopped epoch is dropped whole, so there is none to carry over.
    def training_state(self) -> dict[str, Any]:
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "best_val_loss": self.best_val_loss,
            "best_epoch": self.best_epoch,
            "epochs_without_improvement": self.epochs_without_improvement,
            "torch_rng": torch.get_rng_state(),
            "generator": self.generator.get_state(),
            "history": [record.to_json() for record in self.history],
            "curriculum_length": self.curriculum.length,
            # best.pt and last.pt are two files, so a kill can fall between
            # their writes; last.pt alone must be enough to rebuild best.pt.
            "best_model_state": self.best_state or {},
        }
        if self.average is not None:
            state["ema_state"] = self.average.state_dict()
        if self.device.type == "cuda":
            state["cuda_rng"] = torch.cuda.get_rng_state(self.device)
        return state

    def load_training_state(self, payload: dict[str, Any]) -> None:
        """Continue from a last checkpoint (see `freq-tui train --resume`)."""
        state = payload["training_state"]
        self.model.load_state_dict(payload["model_state"])
        capturable = self.optimizer.defaults["capturable"]
        self.optimizer.load_state_dict(state["optimizer"])
        for group in self.optimizer.param_groups:  # as this run needs, whatever the saving run had
            group["capturable"] = capturable
        self.scheduler.load_state_dict(state["scheduler"])
        self.best_val_loss = float(state["best_val_loss"])
        self.best_epoch = int(state["best_epoch"])
        self.epochs_without_improvement = int(state["epochs_without_improvement"])
        torch.set_rng_state(state["torch_rng"])
        self.generator.set_state(state["generator"])
        if self.device.type == "cuda" and "cuda_rng" in state:
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        self.history = [EpochRecord.from_json(record) for record in state["history"]]
        best = state.get("best_model_state") or {}
        self.best_state = {k: v.to(self.device) for k, v in best.items()} or None
        self.curriculum.length = int(state.get("curriculum_length", self.curriculum.total))
        if self.average is not None:
            self.average.load_state_dict(state["ema_state"])
        self.epoch = int(payload["epoch"])

    def _save(self, name: str) -> None:
        if self.run_dir is None:
            return
        save_checkpoint(
            self.run_dir.file(name),
            model=self.model,
            config=self.config,
            n_frequencies=self.n_frequencies,
            epoch=self.epoch,
            training_state=self.training_state(),
        )

    # ---- the loop -----------------------------------------------------------
    def evaluated_weights(self):
        """The weights a run validates, keeps and evaluates in the model for
        the block: the average where there is one."""
        return self.average.applied() if self.average is not None else contextlib.nullcontext()

    def validation_loss(self) -> tuple[float, torch.Tensor]:
        with self.evaluated_weights():
            prediction = feeding.predict(self.model, self.config, self.val_x)
        return float(torch.mean((prediction - self.val_y) ** 2)), prediction

    def _updates(self, length: int):
        """Make one epoch's updates over the first `length` steps of every
        stream; yield the loss of each, detached and on the device."""
        config = self.config
        if self.graphed is not None:
            x, y = feeding.training_streams(config, self.train_x, self.train_y, self.generator, length)
            yield from self.graphed.updates(x, y, feeding.chunk_length(config))
            return
        batches = feeding.train_batches(self.model, config, self.train_x, self.train_y, self.generator,
                                        length=length)
        for output, target in precision.forward_passes(batches, config.precision, self.device):
            yield apply_update(self.model, self.optimizer, output, target, config.grad_clip)

    def fit(self) -> RunEnded:
        """Train until the epochs run out, patience runs out, the loss
        diverges or a stop is requested; then load the best weights."""
        config = self.config
        started = time.monotonic()
        n_batches = feeding.batches_per_epoch(config, self.train_y.shape[0], self.curriculum.length)
        self.on_event(RunStarted(config.epochs, n_batches, str(self.device), start_epoch=self.epoch + 1))
        ending = self._ending()  # a resumed run may have ended already
        self.system.start()
        while ending is None and self.epoch < config.epochs:
            epoch = self.epoch + 1
            epoch_start = time.monotonic()
            train_loss = self.train_epoch(epoch)
            if self.stop.is_set():
                # The unfinished epoch is dropped: last.pt stays at the end of
                # the last whole epoch, so a resume repeats this one exactly.
                ending = (self.stop.reason,
                          f"{self.stop.reason} during epoch {epoch}; checkpoints of epoch {self.epoch} kept")
                break
            val_loss, prediction = self.validation_loss() if math.isfinite(train_loss) else (math.nan, None)
            if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                ending = (RunStatus.DIVERGED, self._divergence_message(epoch, train_loss, val_loss))
                break
            record = self.end_epoch(epoch, train_loss, val_loss, time.monotonic() - epoch_start)
            self.on_event(EpochEnd(record, self._preview(prediction)))
            ending = self._ending()

        status, message = ending or (RunStatus.FINISHED, f"ran all {config.epochs} epochs{self._curriculum_note()}")
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)  # evaluate the best weights
        ended = RunEnded(status, message, self.epoch, self.best_epoch, self.best_val_loss,
                         time.monotonic() - started, tuple(self.history))
        self.on_event(ended)
        return ended

    def train_epoch(self, epoch: int) -> float:
        """One epoch's updates; returns the mean training loss (NaN or
        infinite if it diverged). Returns early when a stop is requested."""
        self.model.train()
        n_streams = self.train_y.shape[0]
        n_batches = feeding.batches_per_epoch(self.config, n_streams, self.curriculum.length)
        loss_sum = torch.zeros((), device=self.device)
        done = 0
        last_report = time.monotonic()
        with precision.training_precision(self.config.precision, self.device):
            for loss in self._updates(self.curriculum.length):
                loss_sum += loss
                done += 1
                if self.average is not None:
                    self.average.update()
                if self.stop.is_set():
                    break
                if time.monotonic() - last_report >= PROGRESS_INTERVAL_S or done == n_batches:
                    last_report = time.monotonic()  # the loss is synced from the device only this often
                    mean_loss = float(loss_sum) / done
                    if not math.isfinite(mean_loss):
                        break  # diverged: no point finishing the epoch
                    self.on_event(BatchProgress(epoch, done, n_batches, mean_loss))
        return float(loss_sum) / max(done, 1)

    def end_epoch(self, epoch: int, train_loss: float, val_loss: float, epoch_time: float) -> EpochRecord:
        """Schedules, best weights and checkpoints of a finished epoch (its
        record goes to the subscribers with EpochEnd: metrics.jsonl is one)."""
        trained_length = self.curriculum.length if self.config.curriculum_start > 0 else None
        # While a curriculum still grows the trained prefix, the validation
        # loss over the whole stream is expected to lag: the plateau
        # schedule and early stopping only start counting once it is done.
        curriculum_was_complete = self.curriculum.complete
        self.curriculum.update(train_loss)
        if self.config.scheduler == "cosine":
            self._step_cosine()
        elif curriculum_was_complete:
            self.scheduler.step(val_loss)
        self.epoch = epoch
        is_best = val_loss < self.best_val_loss
        if is_best:
            self.best_val_loss, self.best_epoch = val_loss, epoch
            self.epochs_without_improvement = 0
        elif curriculum_was_complete:
            self.epochs_without_improvement += 1
        record = EpochRecord(epoch, train_loss, val_loss, self.optimizer.param_groups[0]["lr"], epoch_time,
                             is_best, trained_length, **self.system.sample().figures())
        self.history.append(record)
        if is_best:
            with self.evaluated_weights():
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
                self._save("best.pt")
        self._save("last.pt")
        return record

    def _step_cosine(self) -> None:
        """One epoch along the cosine, unless the curriculum is still growing
        and the next step would take the lr below curriculum_lr_min: then it
        waits there, and goes on from where it stopped once the prefix covers
        the stream. A prefix grows only once the lr is low enough for it, so
        a slow seed gets more epochs at that lr, and the others, which never
        wait, the same schedule as without it."""
        position = self.scheduler.last_epoch
        if position >= self.cosine_epochs:
            return
        floor = self.config.curriculum_lr_min
        if not self.curriculum.complete and self._cosine_lr(position + 1) < floor:
            for group in self.optimizer.param_groups:
                group["lr"] = floor
            return
        self.scheduler.step()

    def _cosine_lr(self, position: int) -> float:
        return self.config.lr * (1 + math.cos(math.pi * position / self.cosine_epochs)) / 2

    def _cosine_ended(self) -> bool:
        """A cosine shorter than the epochs has run to lr 0: nothing more to train."""
        return (self.config.scheduler == "cosine" and self.epoch < self.config.epochs
                and self.scheduler.last_epoch >= self.cosine_epochs)

    def _curriculum_note(self) -> str:
        """For a run that ends before its curriculum covered the whole
        stream: how long it trained on its last prefix (a stalled curriculum
        is the usual reason such a run learned little)."""
        if self.curriculum.complete or not self.history:  # without a curriculum it is complete from the start
            return ""
        length = self.history[-1].trained_length
        since = next(record.epoch for record in self.history if record.trained_length == length)
        last = self.history[-1].epoch
        epochs = f"epoch {last}" if since == last else f"epochs {since}-{last}"
        return (f"; the curriculum never covered the whole stream: {epochs} "
                f"trained on the first {length} of {self.curriculum.total} steps")

    def _ending(self) -> Optional[tuple[str, str]]:
        """(status, message) when the run is to end after this epoch: its
        target held, its lr schedule ended, or its patience ran out."""
        if self.epoch > 0 and self._target_held():
            return RunStatus.TARGET_REACHED, self._target_message()
        if self._cosine_ended():
            waited = self.epoch - self.scheduler.last_epoch  # epochs the cosine waited at curriculum_lr_min
            more = f", {waited} more at curriculum_lr_min" if waited else ""
            return RunStatus.FINISHED, (f"the lr schedule ended after {self.epoch} epochs "
                                f"(a cosine over {self.cosine_epochs}{more}){self._curriculum_note()}")
        return self._patience_ran_out()

    # ---- target stop: worked out from the history, so a resume needs nothing more
    def _target_streak(self) -> list[EpochRecord]:
        """The epochs at the end of the history whose validation MSE is <= target_mse."""
        streak: list[EpochRecord] = []
        for record in reversed(self.history):
            if record.val_loss > self.config.target_mse:
                break
            streak.append(record)
        return streak[::-1]

    def _target_held(self) -> bool:
        return self.config.target_mse > 0 and len(self._target_streak()) >= self.config.target_patience

    def _target_message(self) -> str:
        c = self.config
        return (f"validation MSE <= {c.target_mse:g} for {c.target_patience} epochs "
                f"(from epoch {self._target_streak()[0].epoch}); best epoch {self.best_epoch}")

    def target_record(self, status: str) -> Optional[dict[str, Any]]:
        """For results.json: whether the target held, from which epoch, and the
        training time (sum of epoch times) to the end of that epoch and to the stop."""
        if self.config.target_mse <= 0:
            return None
        streak = self._target_streak()
        first = streak[0].epoch if streak else None
        return {
            "target_mse": self.config.target_mse,
            "target_patience": self.config.target_patience,
            "reached": status == RunStatus.TARGET_REACHED,
            "first_epoch": first,
            "time_to_target_s": sum(r.epoch_time for r in self.history if r.epoch <= first) if first else None,
            "time_to_stop_s": sum(r.epoch_time for r in self.history),
        }

    def _patience_ran_out(self) -> Optional[tuple[str, str]]:
        if self.epoch > 0 and self.epochs_without_improvement >= self.config.patience:
            return RunStatus.EARLY_STOPPED, self._early_stop_message()
        return None

    def _divergence_message(self, epoch: int, train_loss: float, val_loss: float) -> str:
        kind = "NaN" if math.isnan(train_loss) or math.isnan(val_loss) else "infinite"
        kept = f"checkpoints of epoch {self.epoch} kept" if self.epoch else "no checkpoint was written"
        return f"loss became {kind} in epoch {epoch}; {kept} (try a lower --lr)"

    def _early_stop_message(self) -> str:
        return f"no validation improvement for {self.config.patience} epochs; best epoch {self.best_epoch}"

    def _preview(self, prediction: torch.Tensor) -> Preview:
        val = self.splits["val"]
        n = Preview.length(val.n_samples, val.fs)
        return Preview.window(val.t, prediction[:, :n].detach().cpu().numpy(), val.targets, val.fs)

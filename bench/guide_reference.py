"""The guide's L = 1 training loop, re-implemented faithfully as the speed
reference (IMPLEMENTATION_GUIDE.md sections 4.2-4.4). Kept deliberately as
the guide writes it, slow parts included:

- a per-row Dataset over the K*N rows (frequency-major), each __getitem__
  building a dict of small tensors; a DataLoader with batch 32, shuffle=False;
- a stateful model that stores (h, c) in the module, detaches them after
  every forward pass and carries them to the next batch (row j of a batch
  continues from row j of the previous batch);
- reset when the first row's frequency changes or its sample_idx is 0;
- Adam lr 1e-3, MSE, gradient clipping 1.0, `loss.item()` every batch.

Nothing here is imported by lstm_core: it exists to be measured against.
"""
from __future__ import annotations

import time
from typing import Optional

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


class FrequencyExtractionDataset(Dataset):
    """Row idx -> (freq_idx, sample_idx) = divmod(idx, num_samples)."""

    def __init__(self, S: np.ndarray, targets: np.ndarray, t: np.ndarray):
        self.S = S
        self.targets = targets
        self.t = t
        self.num_frequencies, self.num_samples = targets.shape

    def __len__(self) -> int:
        return self.num_frequencies * self.num_samples

    def __getitem__(self, idx: int) -> dict:
        freq_idx = idx // self.num_samples
        sample_idx = idx % self.num_samples
        C = np.zeros(self.num_frequencies)
        C[freq_idx] = 1.0
        input_vec = np.concatenate([[self.S[sample_idx]], C])
        target_val = self.targets[freq_idx, sample_idx]
        return {
            "input": torch.FloatTensor(input_vec),
            "target": torch.FloatTensor([target_val]),
            "freq_idx": freq_idx,
            "sample_idx": sample_idx,
            "t": self.t[sample_idx],
        }


class StatefulLSTM(nn.Module):
    """Hidden state lives in the module and is detached after every call."""

    def __init__(self, input_size: int, hidden_size: int = 64, num_layers: int = 1):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_size, 1)
        self.hidden_state: Optional[torch.Tensor] = None
        self.cell_state: Optional[torch.Tensor] = None

    def init_hidden(self, batch_size: int, device: torch.device) -> None:
        self.hidden_state = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)
        self.cell_state = torch.zeros(self.num_layers, batch_size, self.hidden_size, device=device)

    def forward(self, x: torch.Tensor, reset_state: bool = False) -> torch.Tensor:
        batch_size = x.size(0)
        if x.dim() == 2:
            x = x.unsqueeze(1)  # (batch, 1, 1 + K)
        # The guide's troubleshooting note: a batch of another size (the last
        # one) gets a fresh state instead of crashing.
        if reset_state or self.hidden_state is None or self.hidden_state.size(1) != batch_size:
            self.init_hidden(batch_size, x.device)
        lstm_out, (h_new, c_new) = self.lstm(x, (self.hidden_state, self.cell_state))
        self.hidden_state = h_new.detach()
        self.cell_state = c_new.detach()
        return self.fc(lstm_out[:, -1, :])


def make_loader(S: np.ndarray, targets: np.ndarray, t: np.ndarray, batch_size: int = 32) -> DataLoader:
    return DataLoader(FrequencyExtractionDataset(S, targets, t), batch_size=batch_size, shuffle=False)


def _reset_needed(batch: dict, current_freq_idx: Optional[int]) -> tuple[bool, int]:
    freq = batch["freq_idx"][0].item()
    if current_freq_idx is None or freq != current_freq_idx:
        return True, freq
    return batch["sample_idx"][0].item() == 0, freq


def train_epoch_stateful(model, loader, optimizer, criterion, device, clip: float = 1.0) -> float:
    model.train()
    total_loss = 0.0
    current_freq_idx = None
    for batch in loader:
        inputs = batch["input"].to(device)
        targets = batch["target"].to(device)
        reset_state, current_freq_idx = _reset_needed(batch, current_freq_idx)
        outputs = model(inputs, reset_state=reset_state)
        loss = criterion(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        total_loss += loss.item()
    return total_loss / len(loader)


@torch.no_grad()
def evaluate_mse(model, loader, device) -> float:
    """MSE over all rows, fed the way the guide trains (same loader, same
    state carrying and resets)."""
    model.eval()
    squared, count = 0.0, 0
    current_freq_idx = None
    for batch in loader:
        inputs = batch["input"].to(device)
        targets = batch["target"].to(device)
        reset_state, current_freq_idx = _reset_needed(batch, current_freq_idx)
        outputs = model(inputs, reset_state=reset_state)
        squared += float(((outputs - targets) ** 2).sum())
        count += targets.numel()
    return squared / count


def train_reference(train, val, test, *, epochs: int, hidden_size: int = 64, lr: float = 1e-3,
                    batch_size: int = 32, clip: float = 1.0, seed: int = 0, device: str = "cpu") -> dict:
    """Train with the guide's loop; train/val/test are lstm_core SignalSets.
    An epoch is what the guide times as one: the training pass and the
    validation pass it logs val_loss from. Returns per-epoch times and
    losses and the test MSE after the last epoch."""
    torch.manual_seed(seed)
    device = torch.device(device)
    model = StatefulLSTM(1 + train.n_frequencies, hidden_size).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    criterion = nn.MSELoss()
    train_loader = make_loader(train.S, train.targets, train.t, batch_size)
    val_loader = make_loader(val.S, val.targets, val.t, batch_size)
    test_loader = make_loader(test.S, test.targets, test.t, batch_size)
    epoch_times, train_losses, val_losses = [], [], []
    for _ in range(epochs):
        start = time.perf_counter()
        train_losses.append(train_epoch_stateful(model, train_loader, optimizer, criterion, device, clip))
        val_losses.append(evaluate_mse(model, val_loader, device))
        epoch_times.append(time.perf_counter() - start)
    return {
        "epoch_times": epoch_times,
        "train_losses": train_losses,
        "val_losses": val_losses,
        "test_mse": evaluate_mse(model, test_loader, device),
        "rows": len(train_loader.dataset),
    }

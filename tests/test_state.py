"""State-reset semantics: each stream owns its state from its reset at t = 0
to its end; nothing leaks between streams or across chunks."""
import torch

from lstm_core import feeding
from lstm_core.data import generate_for
from lstm_core.models import build_model
from lstm_core.trainer import to_device


def _setup(tiny_config, **overrides):
    config = tiny_config(**overrides)
    torch.manual_seed(0)
    model = build_model(config, len(config.frequencies))
    inputs, targets = to_device(generate_for(config, 1), torch.device("cpu"))
    return config, model, inputs, targets


def test_batched_streams_equal_each_stream_run_alone(tiny_config):
    config, model, inputs, _ = _setup(tiny_config, frequencies=[1.0, 2.0, 5.0])
    batched = feeding.predict(model, config, inputs)
    for k in range(inputs.shape[0]):
        alone = feeding.predict(model, config, inputs[k : k + 1])
        torch.testing.assert_close(batched[k : k + 1], alone)


def test_stateful_prediction_equals_a_step_by_step_loop_from_the_reset(tiny_config):
    config, model, inputs, _ = _setup(tiny_config)
    model.eval()
    with torch.no_grad():
        state, steps = None, []
        for t in range(inputs.shape[1]):
            out, state = model(inputs[:, t : t + 1], state)
            steps.append(out)
    torch.testing.assert_close(feeding.predict(model, config, inputs), torch.cat(steps, dim=1))


def test_changing_one_stream_never_changes_another(tiny_config):
    config, model, inputs, _ = _setup(tiny_config)
    changed = inputs.clone()
    changed[0, :, 0] += 1.0
    before, after = feeding.predict(model, config, inputs), feeding.predict(model, config, changed)
    torch.testing.assert_close(before[1], after[1])
    assert not torch.allclose(before[0], after[0])


def test_training_chunks_carry_state_within_a_stream_and_reset_only_at_start(tiny_config):
    """The outputs the training loop sees, chunk after chunk, are exactly the
    outputs of one continuous pass from the reset: no jump by the batch size,
    no reset mid-stream, no state from another frequency."""
    config, model, inputs, targets = _setup(tiny_config, batch_size=7)
    continuous = feeding.predict(model, config, inputs)
    model.eval()  # same forward as predict (no dropout here anyway)
    with torch.no_grad():
        chunks = [out for out, _ in feeding.train_batches(model, config, inputs, targets, torch.Generator())]
    assert [c.shape[1] for c in chunks[:-1]] == [7] * (len(chunks) - 1)
    torch.testing.assert_close(torch.cat(chunks, dim=1), continuous)


def test_one_step_truncation_sees_the_same_states_and_cuts_gradients(tiny_config):
    config, model, inputs, targets = _setup(tiny_config, truncation="step", batch_size=5)
    continuous = feeding.predict(model, config, inputs)
    outputs = [out for out, _ in feeding.train_batches(model, config, inputs, targets, torch.Generator())]
    torch.testing.assert_close(torch.cat(outputs, dim=1).detach(), continuous)
    # The gradient of step t's output w.r.t. the input of an earlier step is zero.
    x = inputs.clone().requires_grad_(True)
    first = next(feeding.train_batches(model, config, x, targets, torch.Generator()))[0]
    first[:, 3].sum().backward()
    assert x.grad[:, :3].abs().sum() == 0 and x.grad[:, 3].abs().sum() > 0


def test_sequence_windows_reset_state_per_window(tiny_config):
    config, model, inputs, _ = _setup(tiny_config, model="sequence", sequence_length=10)
    prediction = feeding.predict(model, config, inputs)
    # The second window's output equals running that window alone from zeros.
    model.eval()
    with torch.no_grad():
        alone, _ = model(inputs[:, 10:20], None)
    torch.testing.assert_close(prediction[:, 10:20], alone)
    assert prediction.shape == inputs.shape[:2]


def test_sequence_with_carried_state_is_one_continuous_pass(tiny_config):
    config, model, inputs, _ = _setup(tiny_config, model="sequence", sequence_length=10, carry_state=True)
    model.eval()
    with torch.no_grad():
        continuous, _ = model(inputs, None)
    torch.testing.assert_close(feeding.predict(model, config, inputs), continuous)


def test_window_batches_cover_every_window_once(tiny_config):
    config, model, inputs, targets = _setup(tiny_config, model="sequence", sequence_length=8, batch_size=3)
    seen = torch.cat([y for _, y in feeding.train_batches(model, config, inputs, targets, torch.Generator())])
    expected = targets[:, : (targets.shape[1] // 8) * 8].reshape(-1, 8)
    assert seen.shape == expected.shape
    assert sorted(map(tuple, seen.tolist())) == sorted(map(tuple, expected.tolist()))
    n = feeding.batches_per_epoch(config, inputs.shape[0], inputs.shape[1])
    assert n == len(list(feeding.train_batches(model, config, inputs, targets, torch.Generator())))

"""The trainer: demo accuracy, divergence, failures, early stopping, seeds, schedule, errors."""
import math

import pytest
import torch

from symloss import ConfigError, DeviceError, Loss, presets, train, zoo


def test_demo_cross_entropy_reaches_90_percent():
    result = train.evaluate("ce", "demo", "base", seed=0)
    assert result.status == "ok" and result.reason is None
    assert result.fitness >= 0.90
    assert result.steps == 300 and result.history[-1]["step"] == 300
    assert result.fitness == max(row["val_accuracy"] for row in result.history)


def test_symbolic_cross_entropy_trains_like_the_native_one():
    result = train.evaluate(Loss.from_genome(zoo.ce_genome()), "demo", "base", seed=0)
    assert result.status == "ok" and result.fitness >= 0.88


def test_an_overflowing_loss_diverges_without_raising():
    result = train.evaluate("exp(1000*(1-yhat))*y", "demo", "base", seed=0)
    assert result.status == "diverged" and result.fitness == 0.0
    assert "non-finite" in result.reason


def test_a_loss_whose_code_raises_fails_without_raising(monkeypatch):
    def broken(logits, y):
        raise RuntimeError("boom in the loss")

    monkeypatch.setattr(train, "criterion_for", lambda loss: broken)
    result = train.evaluate("ce", "demo", "base", seed=0)
    assert result.status == "failed" and "boom" in result.reason and result.fitness == 0.0


def test_a_loss_that_cannot_learn_is_stopped_early():
    result = train.evaluate("yhat*y*0 + 1", "demo", "base", seed=0)
    assert result.status == "early_stopped" and "training accuracy" in result.reason
    assert result.steps == 100


def test_seeded_runs_reproduce_on_the_cpu():
    first = train.evaluate("focal", "demo", "mixup", seed=3, steps=60, eval_every=30)
    second = train.evaluate("focal", "demo", "mixup", seed=3, steps=60, eval_every=30)
    other = train.evaluate("focal", "demo", "mixup", seed=4, steps=60, eval_every=30)
    assert first.history == second.history
    assert first.history != other.history


@pytest.mark.parametrize("technique", ["cutout", "randaug", "all"])
def test_every_technique_trains(technique):
    result = train.evaluate("ce", "demo", technique, seed=0, steps=40, eval_every=20)
    assert result.status == "ok" and result.steps == 40 and 0.1 < result.fitness <= 1


def test_one_cycle_schedule():
    factor = train.one_cycle(10, 110)
    assert factor(0) == 0 and factor(5) == 0.5 and factor(10) == 1
    assert math.isclose(factor(60), 0.5) and factor(110) == 0 and factor(200) == 0


def test_sgd_with_nesterov_momentum():
    result = train.evaluate("ce", "demo", "base", seed=0, optimizer="sgd", peak_lr=0.05, steps=50, eval_every=50)
    assert result.status == "ok" and result.fitness > 0.3


@pytest.mark.parametrize("call, culprit", [
    (dict(preset="paper-nope"), "paper-nope"),
    (dict(augment="autoaugment"), "autoaugment"),
    (dict(learning_rate=1.0), "learning_rate"),
    (dict(optimizer="rmsprop"), "rmsprop"),
    (dict(precision="fp16"), "fp16"),
])
def test_configuration_errors_raise(call, culprit):
    with pytest.raises(ConfigError, match=culprit):
        train.evaluate("ce", **{"preset": "demo", "augment": "base", **call})


def test_a_failing_device_stops_the_training_instead_of_failing_a_loss(monkeypatch):
    """Out of memory is no loss's fault: not a `failed` evaluation, not a retraining alone."""
    real = train.criterion_for

    def out_of_memory(logits, y):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train, "criterion_for", lambda loss: out_of_memory if loss == "oom" else real(loss))
    for losses in (["oom"], ["ce", "oom"]):
        with pytest.raises(DeviceError, match="OutOfMemoryError: CUDA out of memory"):
            train.evaluate_pack(losses, "demo", "base", seed=0, steps=5)


@pytest.mark.parametrize("precision, on_cpu, on_cuda", [("auto", False, True), ("bf16", True, True),
                                                       ("fp32", False, False)])
def test_precision_chooses_bf16_autocast_per_device(precision, on_cpu, on_cuda):
    config = presets.with_overrides(presets.get("demo"), precision=precision)
    assert (config.autocast("cpu"), config.autocast("cuda")) == (on_cpu, on_cuda)


def test_bf16_on_the_cpu_trains_the_model_in_bf16_and_the_loss_in_float32(monkeypatch):
    autocast_in_loss = []
    real = train.criterion_for

    def criterion_for(loss):
        ce = real(loss)
        return lambda logits, y: autocast_in_loss.append(torch.is_autocast_enabled("cpu")) or ce(logits, y)

    monkeypatch.setattr(train, "criterion_for", criterion_for)
    result = train.evaluate("ce", "demo", "base", seed=0, steps=100, precision="bf16", device="cpu")
    assert result.status == "ok" and result.fitness > 0.6
    assert autocast_in_loss and not any(autocast_in_loss)

    def short(precision):
        return train.evaluate("ce", "demo", "base", seed=0, steps=2, device="cpu", precision=precision).history
    assert short("auto") == short("fp32") != short("bf16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_demo_on_cuda():
    assert train.evaluate("ce", "demo", "base", seed=0, device="cuda").fitness >= 0.85

"""The trainer: demo accuracy, divergence, failures, early stopping, seeds, schedule, errors, targets."""
import itertools
import math

import pytest
import torch

from symloss import ConfigError, DeviceError, Loss, presets, train, zoo


def test_demo_cross_entropy_reaches_90_percent():
    result = train.evaluate("native_ce", "demo", "base", seed=0)
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

    monkeypatch.setattr(train, "criterion_for", lambda loss, label_smoothing: broken)
    result = train.evaluate("native_ce", "demo", "base", seed=0)
    assert result.status == "failed" and "boom" in result.reason and result.fitness == 0.0


THRESHOLD = presets.get("demo").early_stop_accuracy


def test_cross_entropy_is_not_stopped_early_under_any_technique_of_the_demo():
    """The demo's threshold is low enough for CE under `all` (about 0.23 at step 100)."""
    results = {aug: train.evaluate(zoo.ce_genome(), "demo", aug, seed=0) for aug in ("all", "mixup")}
    assert {aug: r.status for aug, r in results.items()} == {"all": "ok", "mixup": "ok"}


def test_a_loss_that_cannot_learn_is_stopped_early_as_a_failed_evaluation():
    result = train.evaluate("yhat*y*0 + 1", "demo", "base", seed=0)
    assert result.status == "early_stopped" and f"never reached {THRESHOLD}" in result.reason
    assert result.steps == 100
    assert result.fitness == 0.0 < max(row["val_accuracy"] for row in result.history)  # not scored with it


# ---- early stopping: from the end of the 7th epoch on, at every epoch's end -----------------------
EPOCHS = {"eval_every": 20, "early_stop_step": 7 * 20, "steps": 200}  # the paper's rule, on 20-step epochs
TRAINING_ROWS = 64  # the demo's batch


def weighted_ce(weight_at_step):
    """Native cross-entropy times weight_at_step(step) on training batches (0: the model learns
    nothing, -1: it unlearns), plain in validation."""
    steps = itertools.count(1)

    def criterion(logits, targets):
        ce = train.NATIVE_CE(logits, targets)
        return ce * weight_at_step(next(steps)) if torch.is_grad_enabled() else ce  # validation: no_grad
    return criterion


NEVER_LEARNS = "yhat*y*0 + 1"
LEARNS_LATE = lambda: weighted_ce(lambda step: 0.0 if step <= 100 else 1.0)  # noqa: E731 - below the threshold in epochs 1-5
UNLEARNS = lambda: weighted_ce(lambda step: 1.0 if step <= 140 else -1.0)  # noqa: E731 - falls after the 7th epoch


def test_the_first_check_is_at_the_end_of_the_7th_epoch():
    result = train.evaluate(NEVER_LEARNS, "demo", "base", seed=0, **EPOCHS)
    assert [row["step"] for row in result.history] == [20, 40, 60, 80, 100, 120, 140]
    assert all(row["train_accuracy"] < THRESHOLD for row in result.history)
    assert result.status == "early_stopped" and result.steps == 140 and result.fitness == 0.0


def test_the_first_check_is_at_the_first_epoch_end_from_the_early_stop_step_on():
    result = train.evaluate(NEVER_LEARNS, "demo", "base", seed=0, **(EPOCHS | {"early_stop_step": 130}))
    assert result.status == "early_stopped" and result.steps == 140


def test_a_loss_below_the_threshold_only_before_the_7th_epoch_is_not_stopped():
    result = train.evaluate(LEARNS_LATE(), "demo", "base", seed=0, **EPOCHS)
    assert [row["train_accuracy"] < THRESHOLD for row in result.history][:5] == [True] * 5
    assert result.status == "ok" and result.steps == 200 and result.fitness > 0.5


def test_a_loss_that_reached_the_threshold_keeps_its_best_accuracy_when_stopped():
    result = train.evaluate(UNLEARNS(), "demo", "base", seed=0, **EPOCHS)
    assert result.status == "early_stopped" and result.steps in (160, 180, 200) and "never" not in result.reason
    assert result.history[-1]["train_accuracy"] < THRESHOLD
    assert result.fitness == max(row["val_accuracy"] for row in result.history) > 0.8


def test_each_member_of_a_pack_is_stopped_as_alone():
    losses = [LEARNS_LATE(), NEVER_LEARNS, UNLEARNS(), "native_ce"]
    packed = train.evaluate_pack(losses, "demo", "base", seed=0, **EPOCHS)
    alone = [train.evaluate(loss, "demo", "base", seed=0, **EPOCHS)
             for loss in (LEARNS_LATE(), NEVER_LEARNS, UNLEARNS())]
    assert [(e.status, e.fitness == 0) for e in packed] == [("ok", False), ("early_stopped", True),
                                                            ("early_stopped", False), ("ok", False)]
    assert [e.steps for e in packed] == [e.steps for e in alone] + [200]
    assert [e.status for e in packed[:3]] == [e.status for e in alone]


def test_seeded_runs_reproduce_on_the_cpu():
    first = train.evaluate("focal", "demo", "mixup", seed=3, steps=60, eval_every=30)
    second = train.evaluate("focal", "demo", "mixup", seed=3, steps=60, eval_every=30)
    other = train.evaluate("focal", "demo", "mixup", seed=4, steps=60, eval_every=30)
    assert first.history == second.history
    assert first.history != other.history


@pytest.mark.parametrize("technique", ["cutout", "randaug", "all"])
def test_every_technique_trains(technique):
    result = train.evaluate("native_ce", "demo", technique, seed=0, steps=40, eval_every=20)
    assert result.status == "ok" and result.steps == 40 and 0.1 < result.fitness <= 1


def test_one_cycle_schedule():
    factor = train.one_cycle(10, 110)
    assert factor(0) == 0 and factor(5) == 0.5 and factor(10) == 1
    assert math.isclose(factor(60), 0.5) and factor(110) == 0 and factor(200) == 0


def test_sgd_with_nesterov_momentum():
    result = train.evaluate("native_ce", "demo", "base", seed=0, optimizer="sgd", peak_lr=0.05, steps=50, eval_every=50)
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
        train.evaluate("native_ce", **{"preset": "demo", "augment": "base", **call})


def test_a_failing_device_stops_the_training_instead_of_failing_a_loss(monkeypatch):
    """Out of memory is no loss's fault: not a `failed` evaluation, not a retraining alone."""
    real = train.criterion_for

    def out_of_memory(logits, y):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(train, "criterion_for",
                        lambda loss, label_smoothing: out_of_memory if loss == "oom" else real(loss))
    for losses in (["oom"], ["native_ce", "oom"]):
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

    def criterion_for(loss, label_smoothing):
        ce = real(loss)
        return lambda logits, y: autocast_in_loss.append(torch.is_autocast_enabled("cpu")) or ce(logits, y)

    monkeypatch.setattr(train, "criterion_for", criterion_for)
    result = train.evaluate("native_ce", "demo", "base", seed=0, steps=100, precision="bf16", device="cpu")
    assert result.status == "ok" and result.fitness > 0.6
    assert autocast_in_loss and not any(autocast_in_loss)

    def short(precision):
        return train.evaluate("native_ce", "demo", "base", seed=0, steps=2, device="cpu", precision=precision).history
    assert short("auto") == short("fp32") != short("bf16")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_demo_on_cuda():
    assert train.evaluate("native_ce", "demo", "base", seed=0, device="cuda").fitness >= 0.85


class RaisesInBackward(torch.autograd.Function):
    """The identity forward; its backward raises from the 26th call on (counted in `calls`)."""

    calls = 0

    @staticmethod
    def forward(ctx, value):
        return value.clone()

    @staticmethod
    def backward(ctx, grad):
        RaisesInBackward.calls += 1
        if RaisesInBackward.calls > 25:
            raise RuntimeError("boom in backward")
        return grad


def test_a_loss_raising_in_the_shared_backward_fails_alone_and_the_others_train(monkeypatch):
    """The shared backward pass cannot say whose loss raised: the members still training start
    again alone; the one that raises gets its own `failed`, one that left before keeps its result."""
    real = train.criterion_for

    overflowing = "exp(1000*(1-yhat))*y"  # diverges, seen at the check of step 25
    overflowing_calls = []

    def criterion_for(loss, label_smoothing):
        if loss == "boom":
            ce = real("native_ce")
            return lambda logits, y: RaisesInBackward.apply(ce(logits, y))
        if loss == overflowing:
            criterion = real(loss)
            return lambda logits, y: overflowing_calls.append(1) or criterion(logits, y)
        return real(loss)

    monkeypatch.setattr(train, "criterion_for", criterion_for)
    options = dict(seed=0, steps=40, eval_every=40)
    RaisesInBackward.calls = 0
    pack = train.evaluate_pack(["native_ce", "boom", overflowing, "focal"], "demo", "base", **options)
    assert RaisesInBackward.calls == 27  # 25 steps in the pack, the 26th raised; alone, it raised at once
    assert len(overflowing_calls) == 25  # it left the pack at step 25 and was not trained again
    alone = {loss: train.evaluate(loss, "demo", "base", **options) for loss in ("native_ce", overflowing, "focal")}
    assert [e.status for e in pack] == ["ok", "failed", "diverged", "ok"]
    assert "boom in backward" in pack[1].reason and pack[1].fitness == 0
    assert pack[2].reason == alone[overflowing].reason == "non-finite loss or gradient by step 25"
    for got, loss in ((pack[0], "native_ce"), (pack[3], "focal")):  # trained to the end, as alone
        assert got.steps == 40 and got.fitness == alone[loss].fitness > 0.3 and got.history == alone[loss].history


def test_native_cross_entropy_has_its_own_name_and_ce_stays_its_old_one():
    assert train.criterion_for("native_ce") is train.criterion_for("ce") is train.NATIVE_CE
    assert train.criterion_for(train.NATIVE_CE) is train.NATIVE_CE
    logits, labels = torch.randn(6, 10), torch.randint(0, 10, (6,))
    targets = torch.nn.functional.one_hot(labels, 10).float()
    genome_ce = train.criterion_for(zoo.ce_genome())  # the zoo's CE genome, compiled by symloss
    assert not isinstance(genome_ce, train.NativeCrossEntropy)
    torch.testing.assert_close(train.NATIVE_CE(logits, targets), torch.nn.functional.cross_entropy(logits, labels))
    torch.testing.assert_close(genome_ce(logits, targets), train.NATIVE_CE(logits, targets), rtol=1e-4, atol=1e-5)


# ---- targets: class indices wherever no labels are mixed --------------------------------------------
@pytest.mark.parametrize("technique, mixed", [("base", False), ("cutout", False), ("randaug", False),
                                              ("mixup", True), ("all", True)])
def test_the_loss_gets_class_indices_unless_the_technique_mixes_labels(technique, mixed, monkeypatch):
    seen = []
    real = train.criterion_for

    def recording(loss, label_smoothing):
        criterion = real(loss, label_smoothing)

        def record(logits, targets):
            seen.append((torch.is_grad_enabled(), len(logits), targets.dtype, tuple(targets.shape[1:])))
            return criterion(logits, targets)
        return record

    monkeypatch.setattr(train, "criterion_for", recording)
    train.evaluate_pack(["focal", "mse"], "demo", technique, seed=0, steps=2, eval_every=2)  # a pack: each member
    training = (True, TRAINING_ROWS, torch.float32, (10,)) if mixed else (True, TRAINING_ROWS, torch.int64, ())
    validation = [(False, rows, torch.int64, ()) for rows in (train.EVAL_BATCH, 359 - 2 * train.EVAL_BATCH)]
    assert sorted(set(seen)) == sorted([training, *validation])  # validation: always the labels
    assert len(seen) == 2 * (2 + 3)  # two members, two training steps and three validation batches each


EPS = 1e-7  # symloss's protected log and reciprocal: log(u + EPS), 1 / (u + EPS)
BY_HAND = {  # zoo losses' elementwise terms f(y, p), written out here
    "ce": lambda y, p: -y * torch.log(p + EPS),
    "focal": lambda y, p: -y * (1 - p) ** 2 * torch.log(p + EPS),
    "mse": lambda y, p: (y - p) ** 2,  # f(0, p) is not 0: the class-index path sums it over every class
    "baikal": lambda y, p: y / (p + EPS) - torch.log(p + EPS),
}


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_a_step_on_class_indices_has_the_loss_and_gradients_of_one_hot_targets(name):
    """The trainer's criterion on class indices and on one-hot rows, against autograd through the
    softmax and the term written out (float64; the gradient of a linear model's weights)."""
    generator = torch.Generator().manual_seed(0)
    features = torch.randn(32, 20, dtype=torch.float64, generator=generator)
    labels = torch.randint(0, 10, (32,), generator=generator)
    weights = (0.3 * torch.randn(20, 10, dtype=torch.float64, generator=generator)).requires_grad_()
    one_hot = torch.nn.functional.one_hot(labels, 10).double()
    criterion = train.criterion_for(zoo.get(name))

    def step(loss_of):
        weights.grad = None
        value = loss_of(features @ weights)
        value.backward()
        return value.detach(), weights.grad.clone()

    expected = step(lambda logits: BY_HAND[name](one_hot, torch.softmax(logits, dim=1)).sum(dim=1).mean())
    for targets in (labels, one_hot):
        value, gradient = step(lambda logits: criterion(logits, targets))
        torch.testing.assert_close(value, expected[0], rtol=1e-12, atol=0)
        torch.testing.assert_close(gradient, expected[1], rtol=1e-10, atol=1e-13)

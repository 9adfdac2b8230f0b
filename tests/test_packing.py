"""Packed models and packed training: members stay apart, packed equals alone up to rounding."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symloss import ConfigError, models, train
from symloss.models import packing

SHORT = {"steps": 2, "eval_every": 2, "warmup_steps": 1}


def _inputs(seed=0, batch=4):
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", models.PACKABLE)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_a_packed_model_computes_each_member_as_the_plain_model(name, mode):
    torch.manual_seed(0)
    plain = models.build(name, 10).train(mode == "train")
    members = 2 if name == "wrn28_10" else 3
    packed = packing.pack(plain, members).train(mode == "train")
    x = _inputs()
    with torch.no_grad():
        expected = plain(x)
        outputs = packing.member_logits(packed(packing.widen_input(x, members)), members).unbind(1)
    assert len(outputs) == members
    for output in outputs:
        torch.testing.assert_close(output, expected, rtol=1e-4, atol=1e-5)


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=1, max_size=5))
def test_regrouping_keeps_the_chosen_members(keep):
    torch.manual_seed(1)
    packed = packing.pack(models.build("small_cnn", 10), 4)
    with torch.no_grad():  # make the members differ
        for parameter in packed.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    packed.eval()
    x = _inputs(1)
    with torch.no_grad():
        before = packing.member_logits(packed(packing.widen_input(x, 4)), 4).unbind(1)
        regrouped = packing.regroup(packed, keep)
        after = packing.member_logits(regrouped(packing.widen_input(x, len(keep))), len(keep)).unbind(1)
    assert packing.members_of(regrouped) == len(keep)
    for position, member in enumerate(keep):
        torch.testing.assert_close(after[position], before[member], rtol=1e-4, atol=1e-5)


def test_regrouped_optimiser_state_follows_its_members():
    packed = packing.pack(models.build("small_cnn", 10), 3)
    optimizer = torch.optim.Adam(packed.parameters())
    packed(packing.widen_input(_inputs(), 3)).sum().backward()
    optimizer.step()
    state = packing.regroup_optimizer_state(optimizer.state_dict(), 3, [2, 0])
    for index, parameter in enumerate(packed.parameters()):
        old, new = optimizer.state_dict()["state"][index], state["state"][index]
        rows = parameter.shape[0] // 3
        torch.testing.assert_close(new["exp_avg"][:rows], old["exp_avg"][2 * rows:])
        torch.testing.assert_close(new["exp_avg"][rows:], old["exp_avg"][:rows])
        assert new["step"] == old["step"]


def test_a_model_that_cannot_be_packed_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot be packed"):
        models.build_packed("efficientnet_v2_s", 10, 2)
    with pytest.raises(ConfigError, match="cannot pack"):
        packing.pack(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.GELU()), 2)


LOSSES = ["ce", "focal", "mse"]


def test_packed_training_follows_each_member_trained_alone():
    alone = [train.evaluate(loss, "demo", "base", seed=0, **SHORT) for loss in LOSSES]
    packed = train.evaluate_pack(LOSSES, "demo", "base", seed=0, **SHORT)
    for one, member in zip(alone, packed):
        assert member.status == one.status == "ok" and member.steps == one.steps == 2
        assert member.history[-1]["val_loss"] == pytest.approx(one.history[-1]["val_loss"], rel=1e-4)
        assert member.history[-1]["val_accuracy"] == pytest.approx(one.history[-1]["val_accuracy"], abs=2 / 359)


def test_a_full_demo_pack_reaches_what_its_members_reach_alone():
    """After 300 steps rounding differences have grown, but the outcomes agree."""
    alone = [train.evaluate(loss, "demo", "base", seed=0) for loss in LOSSES]
    packed = train.evaluate_pack(LOSSES, "demo", "base", seed=0)
    for one, member in zip(alone, packed):
        assert member.status == one.status == "ok"
        assert abs(member.fitness - one.fitness) <= 0.05


DIVERGING = "exp(1000*(1-yhat))*y"


def test_a_diverging_member_leaves_the_others_unchanged():
    options = {"steps": 20, "eval_every": 20}
    with_nan = train.evaluate_pack(["ce", DIVERGING, "focal"], "demo", "base", seed=0, **options)
    benign = train.evaluate_pack(["ce", "mse", "focal"], "demo", "base", seed=0, **options)
    assert with_nan[1].status == "diverged" and with_nan[1].fitness == 0.0
    for position in (0, 2):  # the final validation runs once the diverged member has left: a smaller model
        assert with_nan[position].status == "ok"
        for row, benign_row in zip(with_nan[position].history, benign[position].history, strict=True):
            assert row == pytest.approx(benign_row, rel=1e-5)


def test_members_leave_a_pack_as_they_would_leave_alone(monkeypatch):
    """Divergence, a loss that raises and early stopping each end one member; the rest go on."""
    real = train.criterion_for

    def criterion_for(loss):
        if loss == "raises":
            def broken(logits, y):
                raise RuntimeError("boom in the loss")
            return broken
        return real(loss)

    monkeypatch.setattr(train, "criterion_for", criterion_for)
    losses = [DIVERGING, "ce", "raises", "yhat*y*0 + 1"]
    options = {"steps": 150, "eval_every": 50}
    packed = train.evaluate_pack(losses, "demo", "base", seed=0, **options)
    alone = train.evaluate(DIVERGING, "demo", "base", seed=0, **options)
    assert (packed[0].status, packed[0].steps, packed[0].reason) == (alone.status, alone.steps, alone.reason)
    assert packed[1].status == "ok" and packed[1].steps == 150 and packed[1].fitness >= 0.8
    assert packed[2].status == "failed" and "boom" in packed[2].reason
    assert packed[3].status == "early_stopped" and packed[3].steps == 100

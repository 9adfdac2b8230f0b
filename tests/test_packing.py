"""Packed models and packed training: members stay apart, packed equals alone up to rounding."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from symloss import ConfigError, GenomeError, models, train, zoo
from symloss.models import packing
from symloss.search.jobs import Job, train_pack

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
    regrouped = packing.regroup(packed, [2, 0]).to(memory_format=torch.channels_last)
    reloaded = torch.optim.Adam(regrouped.parameters())
    packing.load_optimizer_state(reloaded, state)
    for parameter in regrouped.parameters():  # laid out as the parameter, for the fused update
        assert reloaded.state[parameter]["exp_avg"].stride() == parameter.stride()


def test_a_pack_job_whose_genome_is_broken_gets_its_own_error():
    good = Job(zoo.ce_genome().to_dict(), "base", "demo", 0, None, (("steps", 4), ("eval_every", 4)))
    broken = Job({"nodes": "not a genome"}, "base", "demo", 0, None, (("steps", 4), ("eval_every", 4)))
    outcomes = train_pack([broken, good])
    assert isinstance(outcomes[0], GenomeError)
    assert outcomes[1].status == "ok" and outcomes[1].steps == 4


def test_a_model_that_cannot_be_packed_is_a_config_error():
    with pytest.raises(ConfigError, match="cannot be packed"):
        models.build_packed("efficientnet_v2_s", 10, 2)
    with pytest.raises(ConfigError, match="cannot pack"):
        packing.pack(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.GELU()), 2)


LOSSES = ["native_ce", "focal", "mse"]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
# (device, precision, relative tolerance of a packed member's validation loss against its run alone)
SETTINGS = [pytest.param("cpu", "fp32", 1e-4, id="cpu-fp32"), pytest.param("cpu", "bf16", 1e-4, id="cpu-bf16"),
            pytest.param("cuda", "auto", 1e-2, id="cuda-bf16", marks=CUDA)]


@pytest.mark.parametrize("device, precision, rel", SETTINGS)
def test_packed_training_follows_each_member_trained_alone(device, precision, rel):
    options = dict(SHORT, device=device, precision=precision)
    alone = [train.evaluate(loss, "demo", "base", seed=0, **options) for loss in LOSSES]
    packed = train.evaluate_pack(LOSSES, "demo", "base", seed=0, **options)
    for one, member in zip(alone, packed):
        assert member.status == one.status == "ok" and member.steps == one.steps == 2
        assert member.history[-1]["val_loss"] == pytest.approx(one.history[-1]["val_loss"], rel=rel)
        assert member.history[-1]["val_accuracy"] == pytest.approx(one.history[-1]["val_accuracy"], abs=2 / 359)


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=CUDA)])
def test_a_full_demo_pack_reaches_what_its_members_reach_alone(device):
    """After 300 steps rounding differences have grown, but the outcomes agree."""
    alone = [train.evaluate(loss, "demo", "base", seed=0, device=device) for loss in LOSSES]
    packed = train.evaluate_pack(LOSSES, "demo", "base", seed=0, device=device)
    for one, member in zip(alone, packed):
        assert member.status == one.status == "ok"
        assert abs(member.fitness - one.fitness) <= 0.05


DIVERGING = "exp(1000*(1-yhat))*y"


@pytest.mark.parametrize("device, precision, rel", SETTINGS)
def test_a_diverging_member_leaves_the_others_unchanged(device, precision, rel):
    """Same shapes, same batches: the other members' numbers are the benign pack's (bitwise on the
    CPU; within the GPU's non-deterministic kernels' rounding on CUDA)."""
    options = {"steps": 20, "eval_every": 20, "device": device, "precision": precision}
    with_nan = train.evaluate_pack(["native_ce", DIVERGING, "focal"], "demo", "base", seed=0, **options)
    benign = train.evaluate_pack(["native_ce", "mse", "focal"], "demo", "base", seed=0, **options)
    assert with_nan[1].status == "diverged" and with_nan[1].fitness == 0.0
    for position in (0, 2):  # the final validation runs once the diverged member has left: a smaller model
        assert with_nan[position].status == "ok"
        for row, benign_row in zip(with_nan[position].history, benign[position].history, strict=True):
            assert row["val_loss"] == pytest.approx(benign_row["val_loss"], rel=rel / 10)
            assert row["val_accuracy"] == pytest.approx(benign_row["val_accuracy"], abs=2 / 359)
            assert row["train_accuracy"] == pytest.approx(benign_row["train_accuracy"], abs=rel)


@CUDA
def test_a_compiled_pack_on_cuda_recompiles_when_a_member_leaves():
    options = {"steps": 30, "eval_every": 30, "device": "cuda"}
    compiled = train.evaluate_pack(["native_ce", DIVERGING, "focal"], "demo", "base", seed=0, compile=True, **options)
    eager = train.evaluate_pack(["native_ce", DIVERGING, "focal"], "demo", "base", seed=0, **options)
    assert [e.status for e in compiled] == [e.status for e in eager] == ["ok", "diverged", "ok"]
    for one, other in zip(compiled, eager):
        assert abs(one.fitness - other.fitness) <= 0.05


def test_members_leave_a_pack_as_they_would_leave_alone(monkeypatch):
    """Divergence, a loss that raises and early stopping each end one member; the rest go on."""
    real = train.criterion_for

    def criterion_for(loss, label_smoothing):
        if loss.startswith("raises"):
            trains = loss == "raises in validation"
            ce = real("native_ce")

            def broken(logits, y):
                if trains and logits.shape[0] == 64:  # a training batch; validation has 359 rows
                    return ce(logits, y)
                raise RuntimeError("boom in the loss")
            return broken
        return real(loss)

    monkeypatch.setattr(train, "criterion_for", criterion_for)
    losses = [DIVERGING, "native_ce", "raises", "yhat*y*0 + 1", "raises in validation"]
    options = {"steps": 150, "eval_every": 50}
    packed = train.evaluate_pack(losses, "demo", "base", seed=0, **options)
    alone = train.evaluate(DIVERGING, "demo", "base", seed=0, **options)
    assert (packed[0].status, packed[0].steps, packed[0].reason) == (alone.status, alone.steps, alone.reason)
    assert packed[1].status == "ok" and packed[1].steps == 150 and packed[1].fitness >= 0.8
    assert packed[2].status == "failed" and "boom" in packed[2].reason
    assert packed[3].status == "early_stopped" and packed[3].steps == 100 and packed[3].fitness == 0.0
    assert packed[4].status == "failed" and "boom" in packed[4].reason

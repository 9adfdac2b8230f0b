"""Compiled losses against an exact evaluator written from SEARCH_SPACE.md (tests/oracle.py, mpmath):
values in float64 and float32, finiteness, gradients, and the reproductions of issue #12."""
import math

import mpmath
import numpy as np
import pytest
import torch

import oracle
from conftest import make_genome
from symloss import Genome, Loss, zoo

CLASSES = 10
GENOMES = 300


def sample_inputs(seed, dtype):
    """12 samples: predictions from soft to saturated (yhat near 0 and 1), one-hot, smoothed and mixed targets."""
    generator = torch.Generator().manual_seed(seed)
    targets, logits = [], []
    for spread in (1.0, 4.0, 12.0, 25.0):
        for kind in ("one-hot", "smoothed", "mixup"):
            row = torch.randn(CLASSES, generator=generator, dtype=torch.float64) * spread
            first, offset = torch.randint(0, CLASSES, (2,), generator=generator).tolist()
            y = torch.zeros(CLASSES, dtype=torch.float64)
            y[first] = 1.0
            if kind == "smoothed":
                y = y * 0.9 + 0.1 / CLASSES
            elif kind == "mixup":
                y = y * 0.7
                y[(first + 1 + offset % (CLASSES - 1)) % CLASSES] += 0.3
            targets.append(y)
            logits.append(row)
    return torch.stack(targets).to(dtype), torch.softmax(torch.stack(logits), -1).to(dtype)


@pytest.fixture(scope="module")
def agreement():
    """For each dtype: (samples compared, within rtol, non-finite where exact is finite)."""
    counts = {torch.float64: [0, 0, 0], torch.float32: [0, 0, 0]}
    rtols = {torch.float64: 1e-6, torch.float32: 1e-3}
    for seed in range(GENOMES):
        genome = Genome.random(seed)
        per_sample = Loss.from_genome(genome).torch()
        for dtype, rtol in rtols.items():
            y, yhat = sample_inputs(seed, dtype)
            got = per_sample(y, yhat).double().numpy()
            exact, _ = oracle.exact_per_sample(genome.to_dict(), y.double().tolist(), yhat.double().tolist(), genome.flip)
            exact = np.array(exact)
            compared = np.isfinite(exact) & (np.abs(exact) < torch.finfo(dtype).max)
            counts[dtype][0] += int(compared.sum())
            counts[dtype][1] += int((compared & (np.abs(got - exact) <= rtol * np.abs(exact))).sum())
            counts[dtype][2] += int((compared & ~np.isfinite(got)).sum())
    return counts


def test_float64_agrees_with_the_exact_value_on_999_in_1000_samples(agreement):
    compared, agree, _ = agreement[torch.float64]
    assert compared >= 0.95 * GENOMES * 12
    assert agree / compared >= 0.999  # measured: 3597 of 3600


def test_float32_agrees_with_the_exact_value_on_995_in_1000_samples(agreement):
    compared, agree, _ = agreement[torch.float32]
    assert agree / compared >= 0.995  # measured: 3586 of 3600 (rtol 1e-3)


def test_no_non_finite_value_where_the_exact_value_is_finite(agreement):
    assert agreement[torch.float64][2] == 0
    assert agreement[torch.float32][2] == 0


def exact_gradient(document, flip, logits, y, step=mpmath.mpf("1e-12")):
    """d(mean per-sample loss)/d(logits) by central differences of the exact evaluator."""
    def mean_loss(rows):
        total = 0
        for y_row, row in zip(y, rows):
            weights = [mpmath.exp(v) for v in row]
            yhat = [w / mpmath.fsum(weights) for w in weights]
            total += mpmath.fsum(_exact_terms(document, y_row, yhat))
        return (-total if flip else total) / len(rows)

    with mpmath.workdps(40):
        rows = [[mpmath.mpf(float(v)) for v in row] for row in logits]
        gradient = np.zeros((len(rows), len(rows[0])))
        for b, row in enumerate(rows):
            for c in range(len(row)):
                up = [r[:] for r in rows]
                down = [r[:] for r in rows]
                up[b][c] += step
                down[b][c] -= step
                gradient[b, c] = float((mean_loss(up) - mean_loss(down)) / (2 * step))
    return gradient


def _exact_terms(document, y_row, yhat_row):
    """oracle.exact_terms on mpf inputs (kept at full precision, not rounded to floats)."""
    nodes = {n["id"]: (n["op"], n["args"]) for n in document["nodes"]}
    results = []
    for y, yhat in zip(y_row, yhat_row):
        values = {"y": mpmath.mpf(float(y)), "yhat": yhat, "1": mpmath.mpf(1), "-1": mpmath.mpf(-1)}

        def value(name):
            if name not in values:
                op, args = nodes[name]
                table = oracle.EXACT_UNARY if len(args) == 1 else oracle.EXACT_BINARY
                values[name] = table[op](*(value(a) for a in args))
            return values[name]

        results.append(value("root"))
    return results


@pytest.mark.parametrize("targets", ["smoothed", "class indices"])
def test_gradients_with_respect_to_logits_match_finite_differences_of_the_exact_loss(targets):
    """50 genomes; smoothed targets take the general fused path, class indices the specialised one."""
    checked = 0
    indices = torch.tensor([0, 3, 4])
    for seed in range(50):
        genome = Genome.random(seed + 700)
        generator = torch.Generator().manual_seed(seed)
        logits = torch.randn(3, 5, generator=generator, dtype=torch.float64) * 2
        one_hot = torch.nn.functional.one_hot(indices, 5).double()
        y = one_hot * 0.9 + 0.02 if targets == "smoothed" else one_hot
        expected = exact_gradient(genome.to_dict(), genome.flip, logits.tolist(), y.tolist())
        if not np.all(np.isfinite(expected)):
            continue
        leaf = logits.clone().requires_grad_(True)
        Loss.from_genome(genome).module()(leaf, y if targets == "smoothed" else indices).backward()
        scale = max(float(np.abs(expected).max()), 1e-3)
        np.testing.assert_allclose(leaf.grad.numpy(), expected, rtol=1e-5, atol=1e-7 * scale,
                                   err_msg=str(genome))
        checked += 1
    assert checked == 50


# ---- the reproductions of issue #12 ---------------------------------------------------------------
PINV_OF_A_SUM = {"nodes": [{"id": "h0", "op": "add", "args": ["y", "1"]},
                           {"id": "h1", "op": "sub", "args": ["yhat", "h2"]},
                           {"id": "h2", "op": "sqrt_abs", "args": ["h0"]},
                           {"id": "h3", "op": "sin", "args": ["h0"]},
                           {"id": "root", "op": "div", "args": ["h3", "h1"]}], "flip": True}


def test_eps_is_added_after_the_sum_it_protects_in_float32():
    loss = Loss.from_genome(Genome.from_dict(PINV_OF_A_SUM))
    y, yhat = torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])
    got = loss.torch()(y, yhat).item()
    # the spec's order in float32: x = yhat - sqrt(y + 1) first, then x + eps
    spec_order = sum(-math.sin(np.float32(a + 1)) / float(np.float32(np.float32(b) - np.float32(math.sqrt(a + 1)))
                                                           + np.float32(1e-7)) for a, b in ((0.0, 1.0), (1.0, 0.0)))
    assert got == pytest.approx(spec_order, rel=1e-6)
    assert got == pytest.approx(-8414709.0, rel=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_softplus_stays_finite_where_its_value_is(dtype):
    loss = Loss.parse("softplus(1000*yhat) + softplus(-1000*yhat)*y")
    yhat = torch.tensor([[0.95, 0.05]], dtype=dtype)
    y = torch.tensor([[1.0, 0.0]], dtype=dtype)
    expected = sum(math.log1p(1e-7 + math.exp(min(1000 * p, 700))) if 1000 * p < 700 else 1000 * p
                   for p in (0.95, 0.05)) + math.log1p(1e-7 + math.exp(-950))
    got = loss.torch()(y, yhat)
    assert torch.isfinite(got).all()
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_softplus_keeps_its_eps_where_exp_underflows():
    value = Loss.parse("softplus(-50*yhat)*y").torch()(torch.tensor([[1.0]]), torch.tensor([[1.0]]))
    assert value.item() == pytest.approx(math.log1p(1e-7 + math.exp(-50)), rel=1e-9)


def test_a_term_that_simplifies_to_a_constant_broadcasts_and_backpropagates():
    genome = make_genome(h0=("div", "y", "yhat"), h1=("neg", "h0"), h2=("abs", "1"), h3=("abs", "-1"),
                         root=("max0", "h1"))
    loss = Loss.from_genome(genome)
    assert loss.expr.is_number or loss.expr.free_symbols
    logits = torch.randn(4, 3, requires_grad=True)
    value = loss.module()(logits, torch.tensor([0, 1, 2, 0]))
    value.backward()
    assert value.item() == 0.0 and torch.equal(logits.grad, torch.zeros_like(logits))
    assert loss.torch()(torch.rand(4, 3), torch.rand(4, 3)).shape == (4,)


def test_baikal_is_the_published_loss_times_the_number_of_classes():
    """Gonzalez & Miikkulainen (2020): L = -(1/n) sum_i (log(yhat_i) - y_i / yhat_i)."""
    logits = torch.randn(6, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    target = torch.tensor([0, 1, 2, 3, 4, 0])
    yhat, y = torch.softmax(logits, -1), torch.nn.functional.one_hot(target, 5).double()
    published = -(torch.log(yhat) - y / yhat).mean(dim=-1)
    per_sample = zoo.get("baikal").torch()(y, yhat)
    torch.testing.assert_close(per_sample, 5 * published, rtol=1e-5, atol=0)
    assert zoo.get("baikal").module()(logits, target).item() == pytest.approx(5 * published.mean().item(), rel=1e-5)

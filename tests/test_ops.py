"""The operation table: complete, faithful to the spec, compiles, differentiates, prints."""
import numpy as np
import pytest
import sympy as sp
import torch

import oracle
from conftest import make_genome
from symloss import Loss, ops

SAMPLES = np.array([-3.0, -1.2, -0.3, 0.0, 1e-3, 0.4, 1.0, 2.5])


def test_table_matches_the_spec_names_indices_and_arities():
    assert [op.name for op in ops.UNARY] == oracle.UNARY_INDEX
    assert [op.name for op in ops.BINARY] == oracle.BINARY_INDEX
    assert [op.index for op in ops.UNARY] == list(range(27))
    assert [op.index for op in ops.BINARY] == list(range(7))
    assert all(op.arity == 1 for op in ops.UNARY) and all(op.arity == 2 for op in ops.BINARY)


@pytest.mark.parametrize("name", oracle.UNARY_INDEX)
def test_unary_torch_form_equals_the_spec(name):
    x = torch.tensor(SAMPLES, dtype=torch.float64)
    np.testing.assert_allclose(ops.OPS[name].fn(x).numpy(), oracle.UNARY[name](SAMPLES), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", oracle.BINARY_INDEX)
def test_binary_torch_form_equals_the_spec(name):
    a, b = np.meshgrid(SAMPLES, SAMPLES[::-1])
    got = ops.OPS[name].fn(torch.tensor(a), torch.tensor(b)).numpy()
    np.testing.assert_allclose(got, oracle.BINARY[name](a, b), rtol=1e-12, atol=1e-12)


def genome_using(name):
    """A genome whose root applies `name` to terms in both y and yhat."""
    operands = ("h2",) if ops.OPS[name].arity == 1 else ("h2", "h3")
    return make_genome(h2=("sub", "yhat", "y"), h3=("mul", "y", "yhat"),
                       h0=(name, *operands), h1=("add", "h0", "h2"), root=("mul", "h1", "h3"), flip=False)


def grid(requires_grad=False):
    logits = torch.linspace(-4, 4, 5 * 7, dtype=torch.float64).reshape(5, 7)
    yhat = torch.softmax(logits, dim=-1).requires_grad_(requires_grad)
    y = torch.nn.functional.one_hot(torch.arange(5) % 7, 7).double() * 0.9 + 0.1 / 7
    return y, yhat


@pytest.mark.parametrize("name", list(ops.OPS))
def test_every_op_compiles_backpropagates_and_prints(name):
    genome = genome_using(name)
    loss = Loss.from_genome(genome)
    y, yhat = grid(requires_grad=True)
    values = loss.torch()(y, yhat)
    expected = genome.evaluate(y.detach(), yhat.detach())
    torch.testing.assert_close(values.detach(), expected, rtol=1e-9, atol=1e-9)
    values.sum().backward()
    assert torch.isfinite(yhat.grad).all()
    primitives = ("PLog", "PInv", "Sigmoid", "Bessel", "SoftplusEps", "Protected", "$")
    for shown in (loss.latex(), loss.latex(explicit_eps=True), loss.text()):
        assert shown and not any(p in shown for p in primitives), shown


def test_protected_forms_keep_eps_after_simplification():
    y, yhat = grid()
    for text, expected in [("log(yhat)", torch.log(yhat + 1e-7)), ("1/yhat", 1 / (yhat + 1e-7)),
                           ("yhat/yhat", yhat / (yhat + 1e-7)), ("log(y*yhat)", torch.log(y * yhat + 1e-7))]:
        term = Loss.parse(text).term()(y, yhat)
        torch.testing.assert_close(term, expected, rtol=1e-12, atol=1e-12)


def test_constant_subexpressions_fold_exactly_like_the_protected_evaluation():
    genome = make_genome(h0=("ln", "1"), h1=("reciprocal", "h0"), h2=("mul", "y", "yhat"),
                         root=("mul", "h1", "h2"), flip=False)
    y, yhat = grid()
    torch.testing.assert_close(Loss.from_genome(genome).torch()(y, yhat), genome.evaluate(y, yhat), rtol=1e-12, atol=0)


def test_bessel_primitives_respect_parity():
    x = sp.Symbol("x", real=True)
    assert ops.BesselI0(-x) == ops.BesselI0(x)
    assert ops.BesselI1(-x) == -ops.BesselI1(x)
    assert ops.BesselI1e(-x) == -ops.BesselI1e(x)

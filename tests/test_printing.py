"""The LaTeX and text printers: what a paper and a user read, and text that reads back exactly."""
import re

import numpy as np
import pytest

from conftest import make_genome
from symloss import Genome, Loss, parsing, zoo


def random_losses(count, seed):
    """Random valid genomes and valid mutants of them."""
    rng = np.random.default_rng(seed)
    losses = []
    while len(losses) < count:
        genome = Genome.random(rng)
        child = genome.mutate(rng)
        losses.append(Loss.from_genome(genome))
        if child.check().valid and len(losses) < count:
            losses.append(Loss.from_genome(child.with_flip(child.check().flip)))
    return losses


def test_the_text_form_reads_back_to_the_same_expression():
    losses = random_losses(300, 5)
    same = sum(parsing.parse_expression(loss.text()) == loss.expr for loss in losses)
    assert same == 300


def test_the_text_form_names_operations_not_primitives():
    assert [zoo.get(n).text() for n in ("ce", "focal", "mse", "baikal")] == [
        "-y*log(yhat)", "-y*(yhat - 1)**2*log(yhat)", "(y - yhat)**2", "y/yhat - log(yhat)"]
    texts = [loss.text() for loss in random_losses(200, 6)]
    leftovers = [t for t in texts if re.search(r"PInv|Sigmoid|Bessel|SoftplusEps", t)]
    assert leftovers == []


def test_latex_reads_like_a_paper():
    assert zoo.get("ce").latex() == r"- y \log\left(\hat{y}\right)"
    assert zoo.get("ce").latex(explicit_eps=True) == r"- y \log{\left(\hat{y} + \epsilon \right)}"
    assert zoo.get("baikal").latex() == r"\frac{y}{\hat{y}} - \log\left(\hat{y}\right)"
    log10 = Loss.from_genome(make_genome(h0=("log10", "yhat"), h1=("mul", "y", "h0"), root=("neg", "h1"), flip=False))
    assert r"\log_{10}" in log10.latex() and "log(10)" not in log10.latex()
    softplus = Loss.parse("y*softplus(yhat)")
    assert softplus.latex() == r"y \log\left(1 + e^{\hat{y}}\right)"
    assert Loss.parse("y*sigmoid(yhat)").latex() == r"y \sigma\left(\hat{y}\right)"


def test_latex_rounds_constants():
    # ln(1) of the genome is ln(1 + eps) = 9.9999995e-8: four significant digits, as a power of ten
    genome = make_genome(h0=("ln", "1"), h1=("add", "y", "h0"), h2=("ln", "yhat"), root=("mul", "h1", "h2"), flip=True)
    latex = Loss.from_genome(genome).latex()
    assert r"10^{-7}" in latex and "99999" not in latex, latex
    assert Loss.parse("1.0000001*y*yhat").latex() == r"1.0000001 y \hat{y}"
    assert Loss.parse("0.123456789*y*yhat").latex() == r"0.1235 y \hat{y}"


@pytest.mark.parametrize("text", ["-y*log(yhat)", "y/yhat - log(yhat)", "Max(y, yhat, 0.5)*yhat**(-2)",
                                  "log10(y + yhat)*exact_log(3)", "softplus(-yhat)*y"])
def test_written_forms_round_trip_through_text(text):
    loss = Loss.parse(text)
    assert parsing.parse_expression(loss.text()) == loss.expr

"""Simplification, canonical keys, parsing and the time budget."""
import threading
import time

import pytest
import sympy as sp

from conftest import make_genome
from symloss import ExpressionError, Loss, symbolic, zoo
from symloss.symbolic import Y, YHAT


def key(genome):
    return Loss.from_genome(genome).key


# Each pair is two genomes a reader would call the same loss.
BASE = dict(h2=("mul", "y", "yhat"), h3=("ln", "yhat"))
EQUIVALENT = {
    "commuted operands": (make_genome(**BASE, h0=("add", "h2", "h3"), root=("neg", "h0"), flip=False),
                          make_genome(**BASE, h0=("add", "h3", "h2"), root=("neg", "h0"), flip=False)),
    "double negation": (make_genome(**BASE, h0=("neg", "h2"), h1=("neg", "h0"), root=("add", "h1", "h3"), flip=False),
                        make_genome(**BASE, h0=("abs", "h2"), root=("add", "h2", "h3"), flip=False)),
    "a-(-b) vs a+b": (make_genome(**BASE, h0=("neg", "h3"), root=("sub", "h2", "h0"), flip=False),
                      make_genome(**BASE, root=("add", "h2", "h3"), flip=False)),
    "max(y,0) vs y": (make_genome(h0=("max0", "y"), h1=("mul", "h0", "h3"), h3=("ln", "yhat"), root=("neg", "h1"), flip=False),
                      make_genome(h1=("mul", "y", "h3"), h3=("ln", "yhat"), root=("neg", "h1"), flip=False)),
    "sqrt(x^2) vs |x|": (make_genome(h0=("sub", "y", "yhat"), h1=("square", "h0"), root=("sqrt_abs", "h1"), flip=False),
                         make_genome(h0=("sub", "y", "yhat"), root=("abs", "h0"), flip=False)),
    "flipped sign folded": (make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), root=("neg", "h1"), flip=False),
                            make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), h2=("neg", "h1"),
                                        root=("neg", "h2"), flip=True)),
    "x*1": (make_genome(**BASE, h0=("mul", "h2", "1"), root=("add", "h0", "h3"), flip=False),
            make_genome(**BASE, root=("add", "h2", "h3"), flip=False)),
}

@pytest.mark.parametrize("name", list(EQUIVALENT))
def test_equivalent_genomes_share_a_key(name):
    first, second = EQUIVALENT[name]
    assert key(first) == key(second)


def test_different_losses_have_different_keys():
    ce = zoo.ce_genome()
    double = make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), h2=("add", "h1", "h1"), root=("neg", "h2"), flip=False)
    log10 = make_genome(h0=("log10", "yhat"), h1=("mul", "y", "h0"), root=("neg", "h1"), flip=False)
    assert len({key(ce), key(double), key(log10)}) == 3


def test_parsed_cross_entropy_has_the_ce_genome_key():
    assert Loss.parse("-y*log(yhat)").key == Loss.from_genome(zoo.ce_genome()).key
    assert Loss.parse("-log(yhat)*y").key == Loss.parse("-(y*ln(yhat))").key


def test_parse_reads_every_op_by_name():
    loss = Loss.parse("softplus(yhat) + bessel_i0e(y) - div_sqrt1p(y, yhat) + max(y, yhat)")
    assert {"yhat", "y"} == {s.name for s in loss.expr.free_symbols}


@pytest.mark.parametrize("text, culprit", [
    ("log((", "cannot parse"), ("", "non-empty"), ("y +* ", "cannot parse"), ("z*y", "z"),
    ("foo(y)", "foo"), ("sqrt(-1)*y", "complex"), ("__import__('os').getcwd()", "cannot parse"),
    ("y == yhat", "cannot parse"), ("zoo*y", "zoo"),
])
def test_bad_expressions_raise_expression_error(text, culprit):
    with pytest.raises(ExpressionError, match=culprit):
        Loss.parse(text)


def test_undefined_expressions_are_rejected_with_a_reason():
    with pytest.raises(ExpressionError, match="undefined"):
        Loss(sp.nan * Y)
    assert "complex" in symbolic.undefined_reason(sp.I * YHAT)


def test_simplification_falls_back_when_out_of_time(monkeypatch):
    def slow(expr, *args, **kwargs):
        time.sleep(5)
        return expr

    symbolic.simplify.cache_clear()
    monkeypatch.setattr(symbolic.sp, "simplify", slow)
    started = time.perf_counter()
    loss = Loss.parse("y*(yhat + 1) - y*yhat", budget_s=0.2)
    assert time.perf_counter() - started < 2
    assert loss.simplified is False
    symbolic.simplify.cache_clear()


def test_simplification_outside_the_main_thread_never_hangs():
    results = []
    thread = threading.Thread(target=lambda: results.append(symbolic.simplify(Y * YHAT + Y * 2, 0.5)))
    thread.start()
    thread.join(10)
    assert results and results[0][1] is False


def test_simplification_merges_algebra_the_automatic_form_keeps_apart():
    assert Loss.parse("y*(yhat + 1) - y*yhat").key == Loss.parse("y").key


def test_keys_are_stable_strings():
    loss = Loss.parse("-y*log(yhat)")
    assert isinstance(loss.key, str) and len(loss.key) == 16
    assert loss.key == symbolic.canonical_key(sp.sympify(loss.expr))

"""Simplification, canonical keys, parsing and the time budget."""
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import pytest
import sympy as sp

from conftest import make_genome
from symloss import ExpressionError, Genome, Loss, symbolic, zoo
from symloss import loss as loss_module
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


def test_the_hang_guard_refuses_a_runaway_input_with_a_typed_error(monkeypatch):
    def slow(expr, *args, **kwargs):
        time.sleep(5)
        return expr

    symbolic.simplify.cache_clear()
    monkeypatch.setattr(symbolic.sp, "simplify", slow)
    monkeypatch.setattr(loss_module, "INPUT_BUDGET_S", 0.2)
    started = time.perf_counter()
    with pytest.raises(ExpressionError, match="longer than 0.2 s"):
        Loss.parse("y*(yhat + 1) - y*yhat")
    assert time.perf_counter() - started < 2
    symbolic.simplify.cache_clear()


def test_simplification_is_skipped_by_size_not_by_time():
    small = Loss.parse("y*(yhat + 1) - y*yhat")
    assert small.simplified and small.expr == Y
    large = Loss.parse(" + ".join(f"y*yhat**{k}" for k in range(1, 26)))
    assert sp.count_ops(large.expr) > symbolic.SIMPLIFY_MAX_OPS and large.simplified is False


def test_simplification_merges_algebra_the_automatic_form_keeps_apart():
    assert Loss.parse("y*(yhat + 1) - y*yhat").key == Loss.parse("y").key


def _keys_of_random_genomes(count=100):
    symbolic.simplify.cache_clear()
    sp.core.cache.clear_cache()
    return [Loss.from_genome(Genome.random(seed)).key for seed in range(count)]


def _keys_in_a_thread(count=100):
    results = []
    thread = threading.Thread(target=lambda: results.append(_keys_of_random_genomes(count)))
    thread.start()
    thread.join(600)
    return results[0]


def _busy(stop):
    while not stop.is_set():
        sum(range(1000))


def test_keys_are_a_pure_function_of_the_genome(monkeypatch):
    """The same 100 keys on an idle process, on a slow clock (a thread hogging the interpreter),
    in a thread (no alarm there) and in a spawned process with another hash seed."""
    monkeypatch.setenv("PYTHONHASHSEED", "12345")
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        spawned = pool.submit(_keys_of_random_genomes)
        idle = _keys_of_random_genomes()
        stop = threading.Event()
        hog = threading.Thread(target=_busy, args=(stop,))
        hog.start()
        try:
            slow_clock = _keys_in_a_thread()
        finally:
            stop.set()
            hog.join()
        assert spawned.result(timeout=600) == idle
    assert slow_clock == idle
    assert len(set(idle)) == 100 and all(len(k) == 16 for k in idle)  # 100 distinct, as observed


def test_keys_round_floats_to_ten_digits():
    base = make_genome(h0=("ln", "1"), h1=("exp", "h0"), h2=("mul", "y", "h1"), h3=("ln", "yhat"),
                       root=("mul", "h2", "h3"), flip=False)
    expr = Loss.from_genome(base).expr
    (constant,) = [f for f in expr.atoms(sp.Float)]
    nudged = lambda factor: expr.xreplace({constant: sp.Float(float(constant) * factor)})
    assert symbolic.canonical_key(nudged(1 + 1e-13)) == symbolic.canonical_key(expr)
    assert symbolic.canonical_key(nudged(1 + 1e-8)) != symbolic.canonical_key(expr)

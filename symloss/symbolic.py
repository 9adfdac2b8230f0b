"""Genome -> SymPy expression, deterministic simplification, canonical key, the hang guard.

Expressions are the elementwise term f(y, yhat), with y >= 0 and yhat > 0: the
per-sample loss is the sum of f over classes.
"""
from __future__ import annotations

import hashlib
import signal
import threading
from contextlib import contextmanager
from functools import lru_cache

import sympy as sp
from sympy.core.function import AppliedUndef

from .errors import ExpressionError
from .genome import ROOT, Genome
from .ops import OPS

Y = sp.Symbol("y", nonnegative=True)
YHAT = sp.Symbol("yhat", positive=True)
SYMBOLS = {"y": Y, "yhat": YHAT}
INPUT_VALUES = {"y": Y, "yhat": YHAT, "1": sp.Integer(1), "-1": sp.Integer(-1)}

# Larger or deeper expressions keep their raw form. Of 3,000 random genomes and mutants, the
# largest had 32 operations and the deepest 16 levels; simplification time grows about 4.5x
# with each level of nesting (8 nested ln: 0.9 s, 10: over 30 s).
SIMPLIFY_MAX_OPS = 60
SIMPLIFY_MAX_DEPTH = 16
KEY_DIGITS = 10  # floats are rounded to this many significant digits in the key


def from_genome(genome: Genome, flip: bool | None = None) -> sp.Expr:
    """The genome's elementwise term, its sign folded in (flip from the genome unless given)."""
    values = dict(INPUT_VALUES)
    for node in genome.order():
        op, args = genome.nodes[node]
        values[node] = OPS[op].sympy(*(values[a] for a in args))
    term = values[ROOT]
    return -term if (genome.flip if flip is None else flip) else term


class _OutOfTime(BaseException):
    """Raised by the hang guard's alarm; a BaseException, so SymPy's own `except Exception` lets it through."""


_budget_active = threading.local()


@contextmanager
def time_budget(seconds: float, what: str):
    """A hang guard: ExpressionError when the body runs past `seconds` (SIGALRM, so in the main
    thread only; elsewhere the size limits on every input bound the work). Nested budgets
    leave the outermost in charge. It never changes a result, only stops a runaway input."""
    if getattr(_budget_active, "on", False) or not can_time_limit():
        yield
        return

    def expire(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)  # and again until it lands
    _budget_active.on = True
    try:
        yield
    except _OutOfTime:
        raise ExpressionError(f"{what} took longer than {seconds:g} s; it is refused") from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        _budget_active.on = False


def can_time_limit() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@lru_cache(maxsize=8192)
def simplify(expr: sp.Expr) -> tuple[sp.Expr, bool]:
    """(sympy.simplify(expr), True), or (expr, False) for an expression of more than
    SIMPLIFY_MAX_OPS operations or nested deeper than SIMPLIFY_MAX_DEPTH: a budget counted on
    the expression, never on the clock, so the result (and the canonical key) is the same in
    every process, thread and machine."""
    if depth_exceeds(expr, SIMPLIFY_MAX_DEPTH) or sp.count_ops(expr) > SIMPLIFY_MAX_OPS:
        return expr, False
    try:
        return sp.simplify(expr), True
    except RecursionError:
        return expr, False


def depth_exceeds(expr: sp.Basic, limit: int) -> bool:
    """Whether the expression tree is deeper than `limit` (walked without recursion)."""
    stack = [(expr, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((a, depth + 1) for a in node.args)
    return False


def undefined_reason(expr: sp.Expr) -> str | None:
    """Why an expression is not a real function of y and yhat, or None when it is."""
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        return "the expression is undefined (it contains zoo, nan or an infinity)"
    if expr.has(sp.I) or any(a.is_real is False for a in expr.atoms(sp.Number)):
        return "the expression has a complex part"
    strangers = sorted(str(s) for s in expr.free_symbols - {Y, YHAT})
    if strangers:
        return f"unknown name(s) {', '.join(strangers)}: an expression may use y and yhat only"
    unknown = sorted({type(f).__name__ for f in expr.atoms(AppliedUndef)})
    if unknown:
        return f"unknown function(s) {', '.join(unknown)}"
    return None


def require_defined(expr: sp.Expr) -> sp.Expr:
    reason = undefined_reason(expr)
    if reason:
        raise ExpressionError(f"{reason}: {expr}")
    return expr


def canonical_key(expr: sp.Expr) -> str:
    """A short hash of the expression's canonical string; equal expressions share it."""
    rounded = expr.xreplace({f: sp.Float(f"{float(f):.{KEY_DIGITS}g}") for f in expr.atoms(sp.Float)})
    return hashlib.sha256(sp.srepr(rounded).encode()).hexdigest()[:16]

"""Genome -> SymPy expression, simplification under a time budget, canonical key, parsing.

Expressions are the elementwise term f(y, yhat), with y >= 0 and yhat > 0: the
per-sample loss is the sum of f over classes.
"""
from __future__ import annotations

import hashlib
import signal
import threading
from contextlib import contextmanager
from functools import lru_cache
from tokenize import TokenError

import sympy as sp
from sympy.core.function import AppliedUndef
from sympy.parsing.sympy_parser import parse_expr, standard_transformations

from .errors import ExpressionError
from .genome import ROOT, Genome
from . import ops
from .ops import OPS, PInv

Y = sp.Symbol("y", nonnegative=True)
YHAT = sp.Symbol("yhat", positive=True)
SYMBOLS = {"y": Y, "yhat": YHAT}
INPUT_VALUES = {"y": Y, "yhat": YHAT, "1": sp.Integer(1), "-1": sp.Integer(-1)}

SIMPLIFY_BUDGET_S = 1.0
KEY_DIGITS = 10  # floats are rounded to this many significant digits in the key


def from_genome(genome: Genome, flip: bool | None = None) -> sp.Expr:
    """The genome's elementwise term, its sign folded in (flip from the genome unless given)."""
    values = dict(INPUT_VALUES)
    for node in genome.order():
        op, args = genome.nodes[node]
        values[node] = OPS[op].sympy(*(values[a] for a in args))
    term = values[ROOT]
    return -term if (genome.flip if flip is None else flip) else term


class _OutOfTime(Exception):
    pass


@contextmanager
def _time_limit(seconds: float):
    """Raise _OutOfTime in the body after `seconds` (SIGALRM; the main thread only)."""
    def expire(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def can_time_limit() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@lru_cache(maxsize=8192)
def simplify(expr: sp.Expr, budget_s: float = SIMPLIFY_BUDGET_S) -> tuple[sp.Expr, bool]:
    """(sympy.simplify(expr), True), or (expr, False) when it ran out of time.

    Outside the main thread no timer can interrupt SymPy, so the expression is
    returned as it is (False) rather than risk a hang.
    """
    if not can_time_limit():
        return expr, False
    try:
        with _time_limit(budget_s):
            return sp.simplify(expr), True
    except (_OutOfTime, RecursionError):
        return expr, False


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


# ---- parsing user expressions ----------------------------------------------------
def _as_parse_function(build):
    """An op's SymPy builder, accepting the `evaluate` flag that parse_expr passes."""
    return lambda *args, evaluate=True: build(*args)


def _parse_names() -> dict:
    names = {name: _as_parse_function(op.sympy) for name, op in OPS.items()}
    names.update(SYMBOLS)
    names.update(log=names["ln"], Abs=sp.Abs, sqrt=sp.sqrt, Max=sp.Max, Min=sp.Min,
                 max=sp.Max, min=sp.Min, pi=sp.pi, E=sp.E)
    return names


PARSE_NAMES = _parse_names()
# Only what parse_expr's transformations emit: no builtins reach an evaluated string.
_PARSE_GLOBALS = {"__builtins__": {}, "Symbol": sp.Symbol, "Integer": sp.Integer, "Float": sp.Float,
                  "Rational": sp.Rational, "Function": sp.Function, "Add": sp.Add, "Mul": sp.Mul,
                  "Pow": sp.Pow}


def _protect_division(expr: sp.Basic) -> sp.Basic:
    """Rebuild an unevaluated parse, turning x**(-k) into PInv(x**k) like the div op."""
    if not expr.args:
        return expr
    args = [_protect_division(a) for a in expr.args]
    if isinstance(expr, sp.Pow) and args[1].is_number and args[1].is_negative:
        base = args[0] if args[1] == -1 else args[0] ** -args[1]
        return PInv(base)
    return expr.func(*args)


def from_srepr(text: str) -> sp.Expr:
    """An expression saved with sympy.srepr, read with SymPy's classes and symloss's primitives only."""
    names = {name: value for name, value in vars(sp).items() if isinstance(value, type) or name in ("S", "Symbol")}
    names.update({cls.__name__: cls for cls in (ops.PLog, ops.PInv, ops.Sigmoid, ops.BesselI0, ops.BesselI0e,
                                                ops.BesselI1, ops.BesselI1e)})
    try:
        expr = eval(text, {"__builtins__": {}}, names)  # noqa: S307 - names are SymPy's classes only
    except Exception as error:  # noqa: BLE001 - any failure to read is the same failure for the user
        raise ExpressionError(f"cannot read the saved expression: {type(error).__name__}: {error}") from None
    if not isinstance(expr, sp.Expr):
        raise ExpressionError("the saved expression is not an expression")
    return require_defined(expr)


def parse(text: str) -> sp.Expr:
    """Parse SymPy syntax over y and yhat; log and division take the protected forms."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    try:
        raw = parse_expr(text, local_dict=dict(PARSE_NAMES), global_dict=dict(_PARSE_GLOBALS),
                         transformations=standard_transformations, evaluate=False)
        expr = sp.sympify(_protect_division(raw))
    except (SyntaxError, TokenError, TypeError, ValueError, AttributeError, NameError, KeyError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExpressionError(f"cannot parse {text!r}: {detail}") from None
    if not isinstance(expr, sp.Expr):
        raise ExpressionError(f"{text!r} is not an expression")
    return require_defined(expr)

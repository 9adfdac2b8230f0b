"""An independent numpy oracle of SEARCH_SPACE.md, written from the spec's tables for the tests.

It shares no code with symloss: each operation and the integrity check are transcribed
from the spec, so agreement between the two is evidence, not a tautology.
"""
import numpy as np
from scipy import special

EPS = 1e-7

UNARY = {
    "neg": lambda x: -x,
    "ln": lambda x: np.log(np.abs(x) + EPS),
    "log10": lambda x: np.log(np.abs(x) + EPS) / np.log(10),
    "exp": np.exp,
    "abs": np.abs,
    "sigmoid": special.expit,
    "inv_1p_abs": lambda x: 1 / (1 + np.abs(x)),
    # ln(|1 + e^x| + eps) = ln(1 + eps + e^x), computed without the overflow of e^x for x > 709
    "softplus": lambda x: np.logaddexp(np.log1p(EPS), x),
    "erf": special.erf,
    "erfc": special.erfc,
    "sin": np.sin,
    "sinh": np.sinh,
    "asinh": np.arcsinh,
    "tanh": np.tanh,
    "atan": np.arctan,
    "reciprocal": lambda x: 1 / (x + EPS),
    "bessel_i0": special.i0,
    "bessel_i0e": special.i0e,
    "bessel_i1": special.i1,
    "bessel_i1e": special.i1e,
    "max0": lambda x: np.maximum(x, 0),
    "min0": lambda x: np.minimum(x, 0),
    "square": np.square,
    "sqrt_abs": lambda x: np.sqrt(np.abs(x)),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "tanh_deriv": lambda x: 1 - np.tanh(x) ** 2,
    "sigmoid_deriv": lambda x: special.expit(x) * (1 - special.expit(x)),
}
BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "max": np.maximum,
    "min": np.minimum,
    "div": lambda a, b: a / (b + EPS),
    "div_sqrt1p": lambda a, b: a / np.sqrt(1 + b**2),
}
UNARY_INDEX = list(UNARY)
BINARY_INDEX = list(BINARY)


def evaluate(document, y, yhat, flip=False):
    """Per-sample loss of a genome document (exchange format) by recursion from the root."""
    nodes = {n["id"]: (n["op"], n["args"]) for n in document["nodes"]}
    y, yhat = np.broadcast_arrays(np.asarray(y, float), np.asarray(yhat, float))
    inputs = {"y": y, "yhat": yhat, "1": np.ones_like(y), "-1": -np.ones_like(y)}

    def value(name, seen=()):
        if name in inputs:
            return inputs[name]
        assert name not in seen, "cycle"
        op, args = nodes[name]
        table = UNARY if len(args) == 1 else BINARY
        return table[op](*(value(a, seen + (name,)) for a in args))

    with np.errstate(all="ignore"):
        total = value("root").sum(axis=-1)
    return -total if flip else total


def active(document):
    nodes = {n["id"]: n["args"] for n in document["nodes"]}
    seen, stack = set(), ["root"]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(nodes.get(name, []))
    return seen


def integrity(curve):
    """(valid, flip) by the spec's integrity check."""
    if not np.all(np.isfinite(curve)):
        return False, None
    if 490 <= np.argmin(curve) <= 509 or 490 <= np.argmax(curve) <= 509:
        return False, None
    d = np.diff(curve)
    if np.all(d < 0):
        return True, True
    if np.all(d > 0):
        return True, False
    t = np.sign(d)
    if np.sum(t == 0) > 10 or np.all(t == 0):
        return False, None
    while np.any(t == 0):
        for i in np.where(t == 0)[0]:
            t[i] = t[i - 1]
    if np.sum(t != np.roll(t, 1)) > 2:
        return False, None
    return True, bool(t[2] != -1)


def verdict(document):
    """(valid, flip) of a genome document, cycles aside."""
    reached = active(document)
    if "y" not in reached or "yhat" not in reached:
        return False, None
    p = np.linspace(1e-7, 1 - 1e-7, 1000)
    curve = evaluate(document, np.array([0.0, 1.0]), np.stack([p, 1 - p], axis=1))
    return integrity(curve)


# ---- exact evaluation (mpmath), for measuring how close compiled losses come -------------------
import mpmath

mp = mpmath.mp.clone() if hasattr(mpmath.mp, "clone") else mpmath.mp
EXACT_DIGITS = 40
MP_EPS = mpmath.mpf("1e-7")


def _mp_sigmoid(x):
    return 1 / (1 + mpmath.exp(-x))


EXACT_UNARY = {
    "neg": lambda x: -x,
    "ln": lambda x: mpmath.log(abs(x) + MP_EPS),
    "log10": lambda x: mpmath.log(abs(x) + MP_EPS) / mpmath.log(10),
    "exp": mpmath.exp,
    "abs": abs,
    "sigmoid": _mp_sigmoid,
    "inv_1p_abs": lambda x: 1 / (1 + abs(x)),
    "softplus": lambda x: mpmath.log(abs(1 + mpmath.exp(x)) + MP_EPS),
    "erf": mpmath.erf,
    "erfc": mpmath.erfc,
    "sin": mpmath.sin,
    "sinh": mpmath.sinh,
    "asinh": mpmath.asinh,
    "tanh": mpmath.tanh,
    "atan": mpmath.atan,
    "reciprocal": lambda x: 1 / (x + MP_EPS),
    "bessel_i0": lambda x: mpmath.besseli(0, x),
    "bessel_i0e": lambda x: mpmath.exp(-abs(x)) * mpmath.besseli(0, x),
    "bessel_i1": lambda x: mpmath.besseli(1, x),
    "bessel_i1e": lambda x: mpmath.exp(-abs(x)) * mpmath.besseli(1, x),
    "max0": lambda x: max(x, 0),
    "min0": lambda x: min(x, 0),
    "square": lambda x: x * x,
    "sqrt_abs": lambda x: mpmath.sqrt(abs(x)),
    "softsign": lambda x: x / (1 + abs(x)),
    "tanh_deriv": lambda x: 1 - mpmath.tanh(x) ** 2,
    "sigmoid_deriv": lambda x: _mp_sigmoid(x) * (1 - _mp_sigmoid(x)),
}
EXACT_BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "max": max,
    "min": min,
    "div": lambda a, b: a / (b + MP_EPS),
    "div_sqrt1p": lambda a, b: a / mpmath.sqrt(1 + b * b),
}


def exact_terms(document, y_row, yhat_row):
    """The root's value at each class of one sample, in 40-digit arithmetic (nan where undefined).
    y_row and yhat_row are sequences of floats (taken exactly)."""
    nodes = {n["id"]: (n["op"], n["args"]) for n in document["nodes"]}
    with mpmath.workdps(EXACT_DIGITS):
        results = []
        for y, yhat in zip(y_row, yhat_row):
            inputs = {"y": mpmath.mpf(float(y)), "yhat": mpmath.mpf(float(yhat)), "1": mpmath.mpf(1),
                      "-1": mpmath.mpf(-1)}
            memo = {}

            def value(name):
                if name in inputs:
                    return inputs[name]
                if name not in memo:
                    op, args = nodes[name]
                    table = EXACT_UNARY if len(args) == 1 else EXACT_BINARY
                    memo[name] = table[op](*(value(a) for a in args))
                return memo[name]

            try:
                results.append(value("root"))
            except (ZeroDivisionError, OverflowError, ValueError):
                results.append(mpmath.nan)
        return results


def exact_per_sample(document, y, yhat, flip):
    """(value, scale) per sample as Python floats: the per-sample loss, and the sum over classes
    of |term| (the size a float sum of the terms is accurate relative to)."""
    values, scales = [], []
    with mpmath.workdps(EXACT_DIGITS):
        for y_row, yhat_row in zip(y, yhat):
            terms = exact_terms(document, y_row, yhat_row)
            total = mpmath.fsum(terms)
            values.append(float(-total if flip else total) if mpmath.isfinite(total) else float("nan"))
            scale = mpmath.fsum(abs(t) for t in terms)
            scales.append(float(scale) if mpmath.isfinite(scale) else float("inf"))
    return values, scales

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
    "softplus": lambda x: np.log(np.abs(1 + np.exp(x)) + EPS),
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

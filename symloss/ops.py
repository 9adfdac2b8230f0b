"""The search space's operations: the one table every other module derives from.

Each row gives an operation's name (as in the spec), its index in the reference
implementation, its arity, its SymPy form, its protected torch form and its LaTeX.
Torch and LaTeX forms are `string.Template`s over ``$a`` (and ``$b`` for binary ops).

The protected operations keep their eps semantics through SymPy simplification by
being built from opaque SymPy functions (`PLog`, `PInv`) that SymPy cannot rewrite
with the unprotected identities (log(ab) = log a + log b, x/x = 1, ...).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from string import Template
from typing import Callable

import sympy as sp
import torch

EPS = 1e-7
LN10 = math.log(10.0)
LOG1P_EPS = math.log1p(EPS)  # c = ln(1 + eps): the softplus op ln(1 + eps + e^x) is c + softplus(x - c)
TORCH_NAMESPACE = {"torch": torch, "EPS": EPS, "LN10": LN10, "LOG1P_EPS": LOG1P_EPS}


class Primitive(sp.Function):
    """A one-argument SymPy function that SymPy treats as opaque.

    Subclasses give `numeric` (its value at a float) and `parity` (1 even, -1 odd, 0
    neither). A numeric argument evaluates to a Float at once, so constant-only
    subexpressions fold exactly as torch computes them.
    """

    nargs = 1
    parity = 0
    positive = False

    @staticmethod
    def numeric(u: float) -> float:  # pragma: no cover - every subclass overrides it
        raise NotImplementedError

    @classmethod
    def eval(cls, u):
        if u.is_number:
            try:
                value = cls.numeric(float(u))
            except (TypeError, ValueError, OverflowError, ZeroDivisionError):
                return sp.nan
            return sp.Float(value) if math.isfinite(value) else sp.zoo
        if cls.parity and u.could_extract_minus_sign():
            return cls(-u) if cls.parity == 1 else -cls(-u)
        return None

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return True if self.positive and self.args[0].is_real else None


class PLog(Primitive):
    """ln(u + eps); the ops apply it to |x|, so its argument is never negative."""


    def explicit(self, eps: sp.Expr) -> sp.Expr:
        """The same value with eps as an explicit term: ln(u + eps)."""
        return sp.log(self.args[0] + eps)

    @staticmethod
    def numeric(u):
        return math.log(u + EPS)

    def fdiff(self, argindex=1):
        return PInv(self.args[0])


class PInv(Primitive):
    """1 / (u + eps), the protected reciprocal."""


    def explicit(self, eps: sp.Expr) -> sp.Expr:
        """The same value with eps as an explicit term: 1 / (u + eps)."""
        return 1 / (self.args[0] + eps)

    @staticmethod
    def numeric(u):
        return 1.0 / (u + EPS)

    def fdiff(self, argindex=1):
        return -PInv(self.args[0]) ** 2


class SoftplusEps(Primitive):
    """ln(1 + eps + e^u), the softplus op in the form that compiles stably (never inf where finite).

    Only the compiler writes it (from PLog(1 + exp(u))); keys and LaTeX keep the op's own form.
    """

    @staticmethod
    def numeric(u):
        return max(u, LOG1P_EPS) + math.log1p(math.exp(-abs(u - LOG1P_EPS)))

    def fdiff(self, argindex=1):
        return Sigmoid(self.args[0] - LOG1P_EPS)


def _special(name: str):
    """scipy.special's `name` as a float function (scipy is imported at the first call, not with symloss)."""
    def numeric(u):
        import scipy.special

        return float(getattr(scipy.special, name)(u))
    return staticmethod(numeric)


class Sigmoid(Primitive):
    positive = True
    numeric = _special("expit")

    def fdiff(self, argindex=1):
        return self * (1 - self)


class BesselI0(Primitive):
    parity = 1
    positive = True
    numeric = _special("i0")

    def fdiff(self, argindex=1):
        return BesselI1(self.args[0])


class BesselI0e(Primitive):
    parity = 1
    positive = True
    numeric = _special("i0e")

    def fdiff(self, argindex=1):
        u = self.args[0]
        return BesselI1e(u) - sp.sign(u) * self


class BesselI1(Primitive):
    parity = -1
    numeric = _special("i1")


class BesselI1e(Primitive):
    parity = -1
    numeric = _special("i1e")


@dataclass(frozen=True)
class Op:
    """One operation of the search space."""

    name: str
    index: int  # index within its arity in the reference implementation
    arity: int
    sympy: Callable[..., sp.Expr]  # operand expressions -> SymPy expression
    torch: str  # protected torch form, a template over $a, $b
    latex: str | None = None  # how printers show the op by name (a template over $a); None: SymPy's form
    head: type | None = None  # the SymPy function that is exactly this op, if any

    def torch_source(self, *operands: str) -> str:
        """The torch form applied to operand source strings (each parenthesised)."""
        names = dict(zip("ab", (f"({o})" for o in operands)))
        return Template(self.torch).substitute(names)

    @cached_property
    def fn(self) -> Callable[..., torch.Tensor]:
        """The protected torch form as a callable on tensors."""
        params = "ab"[: self.arity]
        source = f"lambda {', '.join(params)}: {self.torch_source(*params)}"
        return eval(source, dict(TORCH_NAMESPACE))  # noqa: S307 - our own table


def _unary(name, index, sympy, torch, latex=None, head=None):
    return Op(name, index, 1, sympy, torch, latex, head)


def _binary(name, index, sympy, torch):
    return Op(name, index, 2, sympy, torch)


UNARY = (
    _unary("neg", 0, lambda a: -a, "-$a"),
    _unary("ln", 1, lambda a: PLog(sp.Abs(a)), "torch.log(torch.abs($a) + EPS)", r"\log\left($a\right)"),
    _unary("log10", 2, lambda a: PLog(sp.Abs(a)) / sp.log(10),
           "torch.log(torch.abs($a) + EPS) / LN10", r"\log_{10}\left($a\right)"),
    _unary("exp", 3, sp.exp, "torch.exp($a)", head=sp.exp),
    _unary("abs", 4, sp.Abs, "torch.abs($a)", head=sp.Abs),
    _unary("sigmoid", 5, Sigmoid, "torch.sigmoid($a)", r"\sigma\left($a\right)", Sigmoid),
    _unary("inv_1p_abs", 6, lambda a: 1 / (1 + sp.Abs(a)), "1 / (1 + torch.abs($a))"),
    _unary("softplus", 7, lambda a: PLog(sp.Abs(1 + sp.exp(a))),
           "(LOG1P_EPS + torch.nn.functional.softplus($a - LOG1P_EPS))", r"\log\left(1 + e^{$a}\right)"),
    _unary("erf", 8, sp.erf, "torch.special.erf($a)", head=sp.erf),
    _unary("erfc", 9, sp.erfc, "torch.special.erfc($a)", head=sp.erfc),
    _unary("sin", 10, sp.sin, "torch.sin($a)", head=sp.sin),
    _unary("sinh", 11, sp.sinh, "torch.sinh($a)", head=sp.sinh),
    _unary("asinh", 12, sp.asinh, "torch.asinh($a)", head=sp.asinh),
    _unary("tanh", 13, sp.tanh, "torch.tanh($a)", head=sp.tanh),
    _unary("atan", 14, sp.atan, "torch.atan($a)", head=sp.atan),
    _unary("reciprocal", 15, PInv, "1 / ($a + EPS)"),
    _unary("bessel_i0", 16, BesselI0, "torch.special.i0($a)", r"I_{0}\left($a\right)", BesselI0),
    _unary("bessel_i0e", 17, BesselI0e, "torch.special.i0e($a)", r"e^{-\left|$a\right|} I_{0}\left($a\right)",
           BesselI0e),
    _unary("bessel_i1", 18, BesselI1, "torch.special.i1($a)", r"I_{1}\left($a\right)", BesselI1),
    _unary("bessel_i1e", 19, BesselI1e, "torch.special.i1e($a)", r"e^{-\left|$a\right|} I_{1}\left($a\right)",
           BesselI1e),
    _unary("max0", 20, lambda a: sp.Max(a, 0), "torch.clamp($a, min=0)"),
    _unary("min0", 21, lambda a: sp.Min(a, 0), "torch.clamp($a, max=0)"),
    _unary("square", 22, lambda a: a**2, "torch.square($a)"),
    _unary("sqrt_abs", 23, lambda a: sp.sqrt(sp.Abs(a)), "torch.sqrt(torch.abs($a))"),
    _unary("softsign", 24, lambda a: a / (1 + sp.Abs(a)), "$a / (1 + torch.abs($a))"),
    _unary("tanh_deriv", 25, lambda a: 1 - sp.tanh(a) ** 2, "1 - torch.tanh($a) ** 2"),
    _unary("sigmoid_deriv", 26, lambda a: Sigmoid(a) * (1 - Sigmoid(a)), "torch.sigmoid($a) * (1 - torch.sigmoid($a))"),
)

BINARY = (
    _binary("add", 0, lambda a, b: a + b, "$a + $b"),
    _binary("sub", 1, lambda a, b: a - b, "$a - $b"),
    _binary("mul", 2, lambda a, b: a * b, "$a * $b"),
    _binary("max", 3, sp.Max, "torch.maximum($a, $b)"),
    _binary("min", 4, sp.Min, "torch.minimum($a, $b)"),
    _binary("div", 5, lambda a, b: a * PInv(b), "$a / ($b + EPS)"),
    _binary("div_sqrt1p", 6, lambda a, b: a / sp.sqrt(1 + b**2), "$a / torch.sqrt(1 + $b ** 2)"),
)

OPS: dict[str, Op] = {op.name: op for op in UNARY + BINARY}
UNARY_NAMES = tuple(op.name for op in UNARY)
BINARY_NAMES = tuple(op.name for op in BINARY)

# SymPy function -> torch template, for the printer: the ops that are one SymPy function, the
# functions that simplification and derivatives bring, and the compiled softplus.
TORCH_HEADS: dict[type, str] = {
    **{op.head: op.torch for op in OPS.values() if op.head is not None},
    sp.log: "torch.log($a)", sp.cos: "torch.cos($a)", sp.cosh: "torch.cosh($a)", sp.sign: "torch.sign($a)",
    SoftplusEps: OPS["softplus"].torch,
}
# Every SymPy function a loss may hold and symloss compiles (Max and Min aside).
COMPILABLE_FUNCTIONS: tuple[type, ...] = (*TORCH_HEADS, PLog, PInv, sp.Heaviside)


def softplus_argument(node: sp.Basic) -> sp.Expr | None:
    """u when node is the softplus op's form PLog(|1 + exp(u)|) (the |.| dropped by SymPy or not)."""
    if not isinstance(node, PLog):
        return None
    inner = node.args[0]
    if isinstance(inner, sp.Abs) and inner.args[0].is_positive:
        inner = inner.args[0]
    if inner.is_Add and len(inner.args) == 2 and sp.S.One in inner.args:
        (other,) = [a for a in inner.args if a is not sp.S.One]
        if isinstance(other, sp.exp):
            return other.args[0]
    return None

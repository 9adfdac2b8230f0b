"""SymPy -> torch: symloss's own small printer, driven by the operation table.

The printer knows SymPy's arithmetic (Add, Mul, Pow, Max, Min, log, numbers, y, yhat and
EPS), and the cos, cosh, sign and Heaviside functions that simplification and derivatives
bring; every other function is printed with the torch form that `symloss.ops` gives it.
Before printing, the protected primitives are written with an explicit EPS symbol
(ln(u + EPS), 1/(u + EPS)) so that common subexpressions, u + EPS included, are computed
once (sympy.cse); numeric subexpressions are folded to float literals, which torch applies
in the inputs' dtype and on their device.
"""
from __future__ import annotations

from functools import lru_cache
from string import Template

import sympy as sp
import torch

from .errors import ExpressionError
from .ops import TORCH_HEADS, TORCH_NAMESPACE, PInv, PLog

EPS_SYMBOL = sp.Symbol("EPS", positive=True)


class TorchPrinter:
    """Prints a SymPy expression in y and yhat as one torch expression."""

    def doprint(self, expr: sp.Basic) -> str:
        if expr.is_number:
            return self._print_number(expr)
        method = getattr(self, f"_print_{type(expr).__name__}", None)
        if method is not None:
            return method(expr)
        template = TORCH_HEADS.get(type(expr))
        if template is None:
            raise ExpressionError(f"no torch form for {type(expr).__name__}: {expr}")
        return Template(template).substitute(a=f"({self.doprint(expr.args[0])})")

    def _print_number(self, expr: sp.Basic) -> str:
        value = complex(expr.evalf())
        if value.imag:
            raise ExpressionError(f"complex constant {expr}")
        return repr(value.real)

    def _print_Symbol(self, expr: sp.Symbol) -> str:
        return expr.name

    def _print_log(self, expr: sp.log) -> str:
        return f"torch.log({self.doprint(expr.args[0])})"

    def _print_Add(self, expr: sp.Add) -> str:
        return " + ".join(f"({self.doprint(term)})" for term in expr.args)

    def _print_Mul(self, expr: sp.Mul) -> str:
        """coeff * numerator / denominator; a log factor fuses with the rest as xlogy."""
        coeff, rest = expr.as_coeff_Mul()
        numerator, denominator, logs = [], [], []
        for factor in sp.Mul.make_args(rest):
            if factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                denominator.append(f"({self.doprint(factor.base ** -factor.exp)})")
            elif isinstance(factor, sp.log) and not logs:
                logs.append(factor)
            else:
                numerator.append(factor)
        text = " * ".join(f"({self.doprint(f)})" for f in numerator)
        if logs and text:
            text = f"torch.special.xlogy({text}, {self.doprint(logs[0].args[0])})"
        elif logs:
            text = self._print_log(logs[0])
        if coeff == -1 and text:
            text = f"-({text})"
        elif coeff != 1 or not text:
            text = f"{self._print_number(coeff)} * ({text})" if text else self._print_number(coeff)
        if denominator:
            text = f"({text}) / ({' * '.join(denominator)})"
        return text

    def _print_Pow(self, expr: sp.Pow) -> str:
        base, exp = expr.args
        if base.is_number:
            return f"torch.pow({self._print_number(base)}, {self.doprint(exp)})"
        b = self.doprint(base)
        if exp == 2:
            return f"torch.square({b})"
        if exp == sp.Rational(1, 2):
            return f"torch.sqrt({b})"
        if exp == -sp.Rational(1, 2):
            return f"torch.rsqrt({b})"
        if exp == -1:
            return f"1 / ({b})"
        return f"({b}) ** ({self.doprint(exp)})"

    def _print_extremum(self, expr: sp.Basic, pair: str, bound: str) -> str:
        constants = [a for a in expr.args if a.is_number]
        tensors = [self.doprint(a) for a in expr.args if not a.is_number]
        text = tensors[0]
        for other in tensors[1:]:
            text = f"torch.{pair}({text}, {other})"
        if constants:
            limit = (max if pair == "maximum" else min)(float(c) for c in constants)
            text = f"torch.clamp({text}, {bound}={limit!r})"
        return text

    def _print_Max(self, expr: sp.Max) -> str:
        return self._print_extremum(expr, "maximum", "min")

    def _print_Min(self, expr: sp.Min) -> str:
        return self._print_extremum(expr, "minimum", "max")

    def _print_cos(self, expr: sp.Basic) -> str:
        return f"torch.cos({self.doprint(expr.args[0])})"

    def _print_cosh(self, expr: sp.Basic) -> str:
        return f"torch.cosh({self.doprint(expr.args[0])})"

    def _print_sign(self, expr: sp.Basic) -> str:
        return f"torch.sign({self.doprint(expr.args[0])})"

    def _print_Heaviside(self, expr: sp.Basic) -> str:
        if len(expr.args) > 1 and expr.args[1] != sp.S.Half:
            raise ExpressionError(f"no torch form for {expr}")
        return f"0.5 * (torch.sign({self.doprint(expr.args[0])}) + 1)"


def explicit_eps(expr: sp.Basic) -> sp.Basic:
    """PLog and PInv written out with the EPS symbol."""
    return expr.replace(lambda e: isinstance(e, (PLog, PInv)), lambda e: e.explicit(EPS_SYMBOL))


def fold_numbers(expr: sp.Basic) -> sp.Basic:
    """Replace every numeric subexpression that is not a rational by its Float value."""
    if expr.is_number:
        return expr if expr.is_Rational else sp.Float(complex(expr.evalf()).real)
    if not expr.args:
        return expr
    return expr.func(*(fold_numbers(a) for a in expr.args))


@lru_cache(maxsize=4096)
def term_source(exprs: tuple[sp.Expr, ...], name: str = "term") -> str:
    """Python source of `def name(y, yhat)` returning a tuple of the expressions' values."""
    printer = TorchPrinter()
    temporaries, reduced = sp.cse([explicit_eps(fold_numbers(e)) for e in exprs],
                                  symbols=sp.numbered_symbols("_t"), optimizations=None)
    lines = [f"def {name}(y, yhat):"]
    lines += [f"    {symbol} = {printer.doprint(value)}" for symbol, value in temporaries]
    lines.append(f"    return ({', '.join(printer.doprint(r) for r in reduced)},)")
    return "\n".join(lines) + "\n"


def _factor(expr: sp.Expr) -> tuple[float, sp.Expr]:
    coefficient, body = expr.as_coeff_Mul() if expr.is_Mul else (sp.S.One, expr)
    return float(coefficient), body


class CompiledTerm:
    """Elementwise terms f_i(y, yhat) in one torch function, each kept as coefficient * body
    so that reductions fold the factor in. The first term is the loss; a second, when
    given, is usually its derivative, and shares subexpressions with it."""

    def __init__(self, *exprs: sp.Expr):
        factors = [_factor(e) for e in exprs]
        self.coefficients = [c for c, _ in factors]
        self.source = term_source(tuple(body for _, body in factors))
        namespace = dict(TORCH_NAMESPACE)
        exec(compile(self.source, "<symloss term>", "exec"), namespace)  # noqa: S102
        self.body = namespace["term"]
        self.uses_yhat = [any(s.name == "yhat" for s in e.free_symbols) for e in exprs]

    def factored(self, y: torch.Tensor, yhat: torch.Tensor) -> list[tuple[torch.Tensor, float]]:
        """(body, coefficient) of each term; a body not of the inputs' shape comes back whole."""
        results = []
        for index, value in enumerate(self.body(y, yhat)):
            if isinstance(value, torch.Tensor) and value.shape == yhat.shape == y.shape:
                results.append((value, self.coefficients[index]))
            else:
                results.append((self._whole(index, value, y, yhat), 1.0))
        return results

    def _whole(self, index: int, value, y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
        coefficient = self.coefficients[index]
        if coefficient != 1:
            value = -value if coefficient == -1 else value * coefficient
        if not self.uses_yhat[index]:  # keep a (zero) gradient path to the prediction, and the shape
            return yhat * 0 + value
        if value.shape == yhat.shape == y.shape:
            return value
        return value.expand(torch.broadcast_shapes(y.shape, yhat.shape))

    def __call__(self, y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
        """The first term, broadcast to the inputs' shape."""
        return self._whole(0, self.body(y, yhat)[0], y, yhat)

    def batch_mean(self, y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of the per-sample loss (the first term summed over classes)."""
        value, coefficient = self.factored(y, yhat)[0]
        return value.mean() * (coefficient * yhat.shape[-1])

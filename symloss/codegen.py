"""SymPy -> torch: symloss's own small printer, driven by the operation table.

The printer knows SymPy's arithmetic (Add, Mul, Pow, Max, Min, numbers, y and yhat, and
the cos, cosh, sign and Heaviside functions that derivatives and simplify bring); every other function is printed
with the torch form that `symloss.ops` gives it.
Common subexpressions are computed once (sympy.cse); numeric subexpressions are folded
to float literals, which torch applies in the inputs' dtype and on their device.
"""
from __future__ import annotations

from functools import lru_cache
from string import Template
from typing import Callable

import sympy as sp
import torch

from .errors import ExpressionError
from .ops import TORCH_HEADS, TORCH_NAMESPACE

Term = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


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

    def _print_Add(self, expr: sp.Add) -> str:
        return " + ".join(f"({self.doprint(term)})" for term in expr.args)

    def _print_Mul(self, expr: sp.Mul) -> str:
        coeff, rest = expr.as_coeff_Mul()
        numerator, denominator = [], []
        for factor in sp.Mul.make_args(rest):
            if factor.is_Pow and factor.exp.is_number and factor.exp.is_negative:
                denominator.append(factor.base ** -factor.exp)
            else:
                numerator.append(factor)
        text = " * ".join(f"({self.doprint(f)})" for f in numerator)
        if coeff == -1 and numerator:
            text = f"-({text})"
        elif coeff != 1 or not numerator:
            text = f"{self._print_number(coeff)} * {text}" if numerator else self._print_number(coeff)
        if denominator:
            text = f"({text}) / ({' * '.join(f'({self.doprint(f)})' for f in denominator)})"
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

    def _print_Max(self, expr: sp.Max) -> str:
        return self._print_extremum(expr, "maximum", "min")

    def _print_Min(self, expr: sp.Min) -> str:
        return self._print_extremum(expr, "minimum", "max")


def fold_numbers(expr: sp.Basic) -> sp.Basic:
    """Replace every numeric subexpression that is not a rational by its Float value."""
    if expr.is_number:
        return expr if expr.is_Rational else sp.Float(complex(expr.evalf()).real)
    if not expr.args:
        return expr
    return expr.func(*(fold_numbers(a) for a in expr.args))


@lru_cache(maxsize=4096)
def term_source(expr: sp.Expr, name: str = "term") -> str:
    """Python source of `def name(y, yhat)` returning the elementwise term (maybe a float)."""
    folded = fold_numbers(expr)
    printer = TorchPrinter()
    temporaries, (reduced,) = sp.cse(folded, symbols=sp.numbered_symbols("_t"), optimizations=None)
    lines = [f"def {name}(y, yhat):"]
    lines += [f"    {symbol} = {printer.doprint(value)}" for symbol, value in temporaries]
    lines.append(f"    return {printer.doprint(reduced)}")
    return "\n".join(lines) + "\n"


def compile_term(expr: sp.Expr) -> Term:
    """The elementwise term as a torch function of (y, yhat), broadcast to their shape."""
    source = term_source(expr)
    namespace = dict(TORCH_NAMESPACE)
    exec(compile(source, "<symloss term>", "exec"), namespace)  # noqa: S102
    raw = namespace["term"]
    uses_yhat = any(symbol.name == "yhat" for symbol in expr.free_symbols)

    def term(y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
        value = raw(y, yhat)
        if not uses_yhat:  # keep a (zero) gradient path to the prediction, and the batch shape
            return yhat * 0 + value
        shape = torch.broadcast_shapes(y.shape, yhat.shape)
        return value if value.shape == shape else value.expand(shape)

    term.source = source
    return term

"""SymPy -> torch: a SymPy code printer driven by the operation table, and compiled terms.

Before printing, an expression takes its compiled form:
- numeric subexpressions fold to float literals (torch applies them in the inputs' dtype);
- the softplus op, PLog(1 + exp(u)), becomes `SoftplusEps(u)` = logaddexp(u, ln(1 + eps)),
  finite wherever its value is;
- PLog(u) and PInv(u) become log(Shifted(u)) and 1/Shifted(u), where Shifted(u) prints as
  ``(u + EPS)``: u is computed first and eps added to it, in the spec's order, so float32
  keeps its value near a singularity; sympy.cse shares Shifted(u) between a loss and its
  derivative.
"""
from __future__ import annotations

from functools import lru_cache
from string import Template

import sympy as sp
import torch
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.pycode import AbstractPythonCodePrinter

from .errors import ExpressionError
from .ops import TORCH_HEADS, TORCH_NAMESPACE, PInv, PLog, SoftplusEps, softplus_argument


class Shifted(sp.Function):
    """u + eps, kept opaque so that SymPy never merges eps into the sum u may be."""

    nargs = 1


def stable_form(expr: sp.Expr) -> sp.Expr:
    """The softplus op, PLog(|1 + exp(u)|), as SoftplusEps(u) (before differentiating too)."""
    return expr.replace(lambda e: softplus_argument(e) is not None, lambda e: SoftplusEps(softplus_argument(e)))


def compiled_form(expr: sp.Expr) -> sp.Expr:
    """Numbers folded, softplus stable, protected operations with an explicit Shifted(u)."""
    memo: dict[sp.Basic, sp.Basic] = {}

    def rebuild(node: sp.Basic) -> sp.Basic:
        if node in memo:
            return memo[node]
        if node.is_number:
            result = node if node.is_Rational else sp.Float(complex(node.evalf()).real)
        elif isinstance(node, PLog):
            result = sp.log(Shifted(rebuild(node.args[0])), evaluate=False)
        elif isinstance(node, PInv):
            result = sp.Pow(Shifted(rebuild(node.args[0])), -1)
        elif node.args:
            result = node.func(*(rebuild(a) for a in node.args))
        else:
            result = node
        memo[node] = result
        return result

    return rebuild(stable_form(expr))


class TorchPrinter(AbstractPythonCodePrinter):
    """Prints a compiled form as one torch expression in y and yhat (and cse temporaries).

    It prints the classes of PRINTABLE only; anything else (a Piecewise from simplification,
    an unevaluated Derivative) is an ExpressionError, never partial code."""

    printmethod = "_torchcode"
    language = "Python"

    def _print(self, expr, **kwargs) -> str:
        if not isinstance(expr, PRINTABLE):
            raise ExpressionError(f"no torch form for {type(expr).__name__}")
        return super()._print(expr, **kwargs)

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Rational(self, expr: sp.Rational) -> str:
        return repr(float(expr))

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if exponent == sp.S.Half:
            return f"torch.sqrt({self._print(base)})"
        if exponent == -sp.S.Half:
            return f"torch.rsqrt({self._print(base)})"
        if exponent == -1:
            return f"1/{self.parenthesize(base, PRECEDENCE['Mul'], strict=True)}"
        if base.is_number:
            return f"torch.pow({self._print(base)}, {self._print(exponent)})"
        level = precedence(expr)
        return f"{self.parenthesize(base, level, strict=True)}**{self.parenthesize(exponent, level, strict=True)}"

    def _print_Shifted(self, expr: Shifted) -> str:
        return f"({self._print(expr.args[0])} + EPS)"

    def _extremum(self, expr: sp.Basic, pair: str, bound: str, pick) -> str:
        constants = [float(a) for a in expr.args if a.is_number]
        text, *others = [self._print(a) for a in expr.args if not a.is_number]
        for other in others:
            text = f"torch.{pair}({text}, {other})"
        return f"torch.clamp({text}, {bound}={pick(constants)!r})" if constants else text

    def _print_Max(self, expr: sp.Max) -> str:
        return self._extremum(expr, "maximum", "min", max)

    def _print_Min(self, expr: sp.Min) -> str:
        return self._extremum(expr, "minimum", "max", min)

    def _print_Heaviside(self, expr: sp.Heaviside) -> str:
        if len(expr.args) > 1 and expr.args[1] != sp.S.Half:
            raise ExpressionError(f"no torch form for {expr}")
        return f"0.5*(torch.sign({self._print(expr.args[0])}) + 1)"



def _head_printer(template: str):
    def print_head(self, expr):
        argument = expr.args[0]
        text = self._print(argument)[1:-1] if isinstance(argument, Shifted) else self._print(argument)
        return Template(template).substitute(a=text)
    return print_head


for _head, _template in TORCH_HEADS.items():  # one _print_<Class> per function of the table
    setattr(TorchPrinter, f"_print_{_head.__name__}", _head_printer(_template))
PRINTABLE = (sp.Add, sp.Mul, sp.Pow, sp.Symbol, sp.Rational, sp.Float, sp.Max, sp.Min, sp.Heaviside, Shifted,
             *TORCH_HEADS)


@lru_cache(maxsize=4096)
def term_source(exprs: tuple[sp.Expr, ...], name: str = "term") -> str:
    """Python source of `def name(y, yhat)` returning a tuple of the expressions' values."""
    printer = TorchPrinter()
    temporaries, reduced = sp.cse([compiled_form(e) for e in exprs],
                                  symbols=sp.numbered_symbols("_t"), optimizations=None)
    lines = [f"def {name}(y, yhat):"]
    lines += [f"    {symbol} = {printer.doprint(value)}" for symbol, value in temporaries]
    lines.append(f"    return ({', '.join(printer.doprint(r) for r in reduced)},)")
    return "\n".join(lines) + "\n"


def _coefficient_and_body(expr: sp.Expr) -> tuple[float, sp.Expr]:
    """expr = coefficient * body, with the numeric coefficient pulled out (1 when there is none)."""
    coefficient, body = expr.as_coeff_Mul() if expr.is_Mul else (sp.S.One, expr)
    return float(coefficient), body


class CompiledTerm:
    """Elementwise terms f_i(y, yhat) in one torch function, each computed as coefficient * body
    so that a reduction folds the factor in. The first term is the loss; a second, when given,
    is usually its derivative and shares subexpressions with it."""

    def __init__(self, *exprs: sp.Expr):
        self.coefficients, bodies = zip(*(_coefficient_and_body(e) for e in exprs))
        self.source = term_source(tuple(bodies))
        namespace = dict(TORCH_NAMESPACE)
        exec(compile(self.source, "<symloss term>", "exec"), namespace)  # noqa: S102 - printed by symloss
        self.body = namespace["term"]

    def factored(self, y: torch.Tensor, yhat: torch.Tensor) -> list[tuple[torch.Tensor, float]]:
        """(body, coefficient) of each term, each body of the inputs' broadcast shape with a
        gradient path to yhat (a constant or y-only body included)."""
        shape = yhat.shape if y.shape == yhat.shape else torch.broadcast_shapes(y.shape, yhat.shape)
        return [(_full(value, yhat, shape), coefficient)
                for value, coefficient in zip(self.body(y, yhat), self.coefficients)]

    def __call__(self, y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
        """The first term, broadcast to the inputs' shape."""
        value, coefficient = self.factored(y, yhat)[0]
        return value if coefficient == 1 else value * coefficient

    def batch_mean(self, y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of the per-sample loss (the first term summed over classes)."""
        value, coefficient = self.factored(y, yhat)[0]
        return value.mean() * (coefficient * value.shape[-1])


def _full(value, yhat: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if not (isinstance(value, torch.Tensor) and value.shape == shape and (value.requires_grad or not yhat.requires_grad)):
        value = yhat * 0 + value  # a constant or a term without yhat: its shape, and a (zero) gradient path
    return value if value.shape == shape else value.expand(shape)

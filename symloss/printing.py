"""SymPy -> LaTeX and text, as a paper and a user read a loss (the torch printer is in codegen).

Both printers first put an expression in its *display form*: the protected primitives go back
to the operations they came from (PLog(|x|) is ln, PLog(|x|)/ln 10 is log10, PLog(1 + e^x) is
softplus, Sigmoid is sigmoid, ...), each printed from its row of the operation table, and a
protected reciprocal PInv(u) becomes a fraction. The text form reads back through
`symloss.parsing.parse_expression` to the same expression; the LaTeX form rounds constants
and can show eps explicitly.
"""
from __future__ import annotations

from functools import lru_cache
from string import Template

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE, precedence
from sympy.printing.str import StrPrinter

from .ops import OPS, PInv, PLog, softplus_argument

LATEX_DIGITS = 4  # significant digits of a constant in LaTeX (8 where 4 would show an integer)


class Protected(sp.Function):
    """u as the operand of a protected operation: printed as u, or as u + eps when asked."""

    nargs = 1

    @property
    def precedence(self) -> int:
        """That of what it prints (u, or a sum): printers bracket it as they would bracket u."""
        return min(precedence(self.args[0]), PRECEDENCE["Add"]) if self.explicit else precedence(self.args[0])

    explicit = False


class ProtectedEps(Protected):
    """u + eps, shown with its eps."""

    explicit = True


class Shown(sp.Function):
    """An operation of the table applied to its operand(s), for printing only."""

    op = None


SHOWN: dict[str, type] = {name: type(name, (Shown,), {"op": op, "nargs": op.arity})
                          for name, op in OPS.items() if op.latex is not None}
HEADS_SHOWN = {op.head: SHOWN[op.name] for op in OPS.values() if op.head is not None and op.name in SHOWN}
LOG10 = sp.log(10)


def display_form(expr: sp.Expr, explicit_eps: bool = False) -> sp.Expr:
    """The expression with the table's operations in place of SymPy's protected primitives."""
    protected = ProtectedEps if explicit_eps else Protected

    def rebuild(node: sp.Basic) -> sp.Basic:
        if not node.args:
            return node
        if isinstance(node, PLog):
            return _shown_log(node, rebuild, explicit_eps)
        if isinstance(node, PInv):
            return sp.Pow(protected(rebuild(node.args[0])), -1, evaluate=False)
        if node.is_Mul and not explicit_eps:
            return _shown_log10(node, rebuild)
        if type(node) in HEADS_SHOWN:
            return HEADS_SHOWN[type(node)](*(rebuild(a) for a in node.args))
        return node.func(*(rebuild(a) for a in node.args), evaluate=False)

    return rebuild(expr)


def _shown_log(node: PLog, rebuild, explicit_eps: bool) -> sp.Basic:
    if explicit_eps:
        return sp.log(ProtectedEps(rebuild(node.args[0])), evaluate=False)
    argument = softplus_argument(node)
    if argument is not None:
        return SHOWN["softplus"](rebuild(argument))
    return SHOWN["ln"](rebuild(node.args[0]))


def _shown_log10(node: sp.Mul, rebuild) -> sp.Basic:
    """A product holding PLog(u) / ln 10 shows log10(u) in their place."""
    factors = list(node.args)
    logs = [f for f in factors if isinstance(f, PLog) and softplus_argument(f) is None]
    if sp.Pow(LOG10, -1) in factors and logs:
        factors.remove(sp.Pow(LOG10, -1))
        factors.remove(logs[0])
        factors.append(SHOWN["log10"](rebuild(logs[0].args[0])))
        return sp.Mul(*(f if isinstance(f, Shown) else rebuild(f) for f in factors), evaluate=False)
    return sp.Mul(*(rebuild(f) for f in factors), evaluate=False)


def _operand(shown: Shown) -> sp.Basic:
    """The operand as the operation's text takes it: ln and log10 apply |x| themselves."""
    (argument,) = shown.args
    return argument.args[0] if isinstance(argument, sp.Abs) else argument


class LossLatexPrinter(LatexPrinter):
    """LaTeX of a display form: operations from the table's LaTeX, constants rounded."""

    def __init__(self, digits: int = LATEX_DIGITS):
        super().__init__({"symbol_names": {sp.Symbol("yhat", positive=True): r"\hat{y}"}})
        self.digits = digits

    def _print_Symbol(self, expr, style="plain"):
        return r"\hat{y}" if expr.name == "yhat" else super()._print_Symbol(expr)

    def _print_Float(self, expr: sp.Float) -> str:
        value = float(expr)
        rounded = f"{value:.{self.digits}g}"
        if float(rounded) == round(value) != value:  # 1.0000001 is not 1
            rounded = f"{value:.8g}"
        mantissa, _, exponent = rounded.partition("e")
        return rf"{mantissa} \cdot 10^{{{int(exponent)}}}" if exponent else mantissa

    def _print_Protected(self, expr: Protected, exp=None) -> str:
        body = self._print(expr.args[0])
        if expr.explicit:
            body = rf"{body} + \epsilon"
        return body if exp is None else rf"\left({body}\right)^{{{exp}}}"

    _print_ProtectedEps = _print_Protected

    def _print_Function(self, expr, exp=None):
        return self._print_shown(expr, exp) if isinstance(expr, Shown) else super()._print_Function(expr, exp)

    def _print_shown(self, expr: Shown, exp=None) -> str:
        operands = [self._print(a) for a in expr.args]
        if type(expr).op.name in ("ln", "log10") and isinstance(expr.args[0], sp.Abs):
            base = r"\log" if type(expr).op.name == "ln" else r"\log_{10}"
            body = rf"{base}\left|{self._print(expr.args[0].args[0])}\right|"
        else:
            body = Template(type(expr).op.latex).substitute(dict(zip("ab", operands)))
        return body if exp is None else rf"\left({body}\right)^{{{exp}}}"


class LossStrPrinter(StrPrinter):
    """The text form: the operations by name, / for a protected division, x**(-k) for a power."""

    def _print_Float(self, expr: sp.Float) -> str:
        return repr(float(expr))

    def _print_Function(self, expr) -> str:
        return self._print_shown(expr) if isinstance(expr, Shown) else super()._print_Function(expr)

    def _print_shown(self, expr: Shown) -> str:
        name = type(expr).op.name
        if name in ("ln", "log10"):
            argument = expr.args[0]
            if not (isinstance(argument, sp.Abs) or argument.is_nonnegative):
                inner = self._print(PLog(argument))  # no op reads it back: keep the primitive
                return inner if name == "ln" else f"{inner}/exact_log(10)"
            return f"{'log' if name == 'ln' else 'log10'}({self._print(_operand(expr))})"
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    def _print_PLog(self, expr: PLog) -> str:
        return f"PLog({self._print(expr.args[0])})"

    def _print_Protected(self, expr: Protected) -> str:
        return self._print(expr.args[0])

    def _print_Pow(self, expr: sp.Pow, rational: bool = False) -> str:
        base, exponent = expr.args
        if isinstance(base, Protected) and exponent == -1:
            return f"1/{self.parenthesize(base.args[0], PRECEDENCE['Atom'], strict=True)}"
        if exponent.is_number and exponent.is_negative:
            return f"{self.parenthesize(base, PRECEDENCE['Pow'], strict=True)}**({self._print(exponent)})"
        return super()._print_Pow(expr, rational)

    def _print_Mul(self, expr: sp.Mul) -> str:
        coefficient = sp.Mul(*(f for f in expr.args if f.is_Number))
        factors = [f for f in expr.args if not f.is_Number]
        numerator = [f for f in factors if not _is_protected_inverse(f)]
        denominator = [f.base.args[0] for f in factors if _is_protected_inverse(f)]
        sign = "-" if coefficient.is_negative else ""
        if abs(coefficient) != 1 or not numerator:
            numerator.insert(0, abs(coefficient))
        text = "*".join(self.parenthesize(f, PRECEDENCE["Mul"], strict=False) for f in numerator)
        for f in denominator:
            text += f"/{self.parenthesize(f, PRECEDENCE['Atom'], strict=True)}"
        return sign + text

    def _print_log(self, expr: sp.log) -> str:
        return f"exact_log({self._print(expr.args[0])})"


def _is_protected_inverse(factor: sp.Basic) -> bool:
    return factor.is_Pow and isinstance(factor.base, Protected) and factor.exp == -1


@lru_cache(maxsize=4096)
def latex(expr: sp.Expr, explicit_eps: bool = False, digits: int = LATEX_DIGITS) -> str:
    """The LaTeX of a loss's elementwise term, as a paper shows it (constants to `digits` digits)."""
    return LossLatexPrinter(digits).doprint(display_form(expr, explicit_eps))


@lru_cache(maxsize=4096)
def text(expr: sp.Expr) -> str:
    """The text of a loss's elementwise term; it parses back to the same expression."""
    return LossStrPrinter().doprint(display_form(expr))

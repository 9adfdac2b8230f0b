"""Text -> SymPy by a whitelist: nothing a user, a file or a store hands symloss runs as code.

Two readers, both over Python's `ast` and building the SymPy objects themselves:

- `parse_expression`: a loss typed by a user, ``"-y*log(yhat)"``: numbers, y and yhat,
  + - * / ** and calls of the operations by name (log and / take the protected forms, ** is exact);
- `parse_srepr`: an expression saved with `sympy.srepr` (saved losses, exported ``sympy``
  files): SymPy class names with literal arguments only.

Every input is bounded (its length, nodes, nesting, the size of its integers and exponents)
and every constant must be a finite float, so reading is cheap and its result compiles.
"""
from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .errors import ExpressionError
from .ops import COMPILABLE_FUNCTIONS, OPS, PInv
from .symbolic import SYMBOLS

MAX_EXPONENT = 64  # |k| in x**k when k is a number
MAX_DIGITS = 15  # digits of an integer written in the text
MAX_MAGNITUDE = 1e300  # any constant, once evaluated


@dataclass(frozen=True)
class Limits:
    characters: int
    nodes: int
    depth: int  # of the syntax tree: a sum of n terms is n deep
    brackets: int  # nesting of brackets: the depth that makes simplification costly


EXPRESSION_LIMITS = Limits(characters=4000, nodes=400, depth=200, brackets=32)
SREPR_LIMITS = Limits(characters=40000, nodes=2000, depth=64, brackets=64)  # srepr spells each number out

CONSTANTS = {"pi": sp.pi, "E": sp.E}


def _protected_log(a: sp.Expr) -> sp.Expr:
    return OPS["ln"].sympy(a)


# name -> (arity, builder): the operations by name, the usual spellings of some, and the
# SymPy functions symloss compiles by class name (so printed forms read back); arity None
# takes two or more arguments.
FUNCTIONS: dict[str, tuple[int | None, Callable[..., sp.Expr]]] = {
    **{cls.__name__: (1, cls) for cls in COMPILABLE_FUNCTIONS},
    **{name: (op.arity, op.sympy) for name, op in OPS.items()},
    "log": (1, _protected_log), "exact_log": (1, sp.log), "Abs": (1, sp.Abs), "sqrt": (1, sp.sqrt),
    "Max": (None, sp.Max), "Min": (None, sp.Min),
}


def parse_expression(text: str) -> sp.Expr:
    """A user's expression in y and yhat; log and division are protected (eps = 1e-7)."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("an expression must be a non-empty string")
    tree = _syntax_tree(text, EXPRESSION_LIMITS, "expression")
    return _ExpressionBuilder(text).build(tree.body)


def parse_srepr(text: str) -> sp.Expr:
    """An expression saved with sympy.srepr, read back exactly, by a whitelist of SymPy classes."""
    if not isinstance(text, str) or not text.strip():
        raise ExpressionError("the saved expression must be a non-empty string")
    tree = _syntax_tree(text, SREPR_LIMITS, "saved expression")
    return _SreprBuilder(text).build(tree.body)


def _syntax_tree(text: str, limits: Limits, what: str) -> ast.Expression:
    if len(text) > limits.characters:
        raise ExpressionError(f"the {what} is {len(text)} characters long; at most {limits.characters} are read")
    if _bracket_depth(text) > limits.brackets:
        raise ExpressionError(f"the {what} nests brackets deeper than {limits.brackets} levels")
    try:
        with warnings.catch_warnings():  # an odd escape in a string literal is refused below, not warned about
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        detail = getattr(error, "msg", None) or type(error).__name__
        raise ExpressionError(f"cannot parse the {what} {_shown(text)}: {detail}") from None
    parts = (node for node in ast.walk(tree) if isinstance(node, (ast.expr, ast.keyword)))
    for count, _ in enumerate(parts, 1):
        if count > limits.nodes:
            raise ExpressionError(f"the {what} has more than {limits.nodes} parts")
    if _tree_depth(tree.body, limits.depth) > limits.depth:
        raise ExpressionError(f"the {what} nests deeper than {limits.depth} levels")
    return tree


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for character in text:
        if character in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in ")]}":
            depth -= 1
    return deepest


def _tree_depth(node: ast.AST, limit: int) -> int:
    """The nesting depth of a syntax tree, counted without recursion (stops past `limit`)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(current)
                     if not isinstance(child, (ast.operator, ast.unaryop, ast.expr_context)))
    return deepest


def _shown(text: str, width: int = 60) -> str:
    """The text for an error message: printable, and short."""
    clipped = text if len(text) <= width else text[:width] + "..."
    return ascii(clipped)


def checked(value: sp.Expr) -> sp.Expr:
    """A built node; a numeric one must be a finite real of a float's range."""
    if isinstance(value, sp.Expr) and value.is_number:
        if value.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise ExpressionError(f"the expression is undefined at {_shown(str(value))}")
        try:
            number = complex(value.evalf(17))
        except (TypeError, ValueError, OverflowError):
            raise ExpressionError(f"the constant {_shown(str(value))} is not a finite number") from None
        if number.imag:
            raise ExpressionError(f"the constant {_shown(str(value))} is complex")
        if not math.isfinite(number.real) or abs(number.real) > MAX_MAGNITUDE:
            raise ExpressionError(f"the constant {_shown(str(value))} overflows a float")
    return value


def _is_product(node: ast.AST) -> bool:
    return (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div))) or \
        (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub))


def _power(base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
    """base**exponent (exact: only / is protected), with a bounded numeric exponent."""
    if exponent.is_number and (not exponent.is_real or abs(float(exponent)) > MAX_EXPONENT):
        raise ExpressionError(f"exponents are limited to [-{MAX_EXPONENT}, {MAX_EXPONENT}], "
                              f"not {_shown(str(exponent))}")
    return checked(base ** exponent)


class _ExpressionBuilder:
    """Builds a user's expression from its syntax tree, node kind by node kind."""

    BINARY = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b}

    def __init__(self, text: str):
        self.text = text

    def fail(self, message: str):
        raise ExpressionError(f"cannot parse {_shown(self.text)}: {message}")

    def build(self, node: ast.AST) -> sp.Expr:
        if _is_product(node):
            return checked(sp.Mul(*self.factors(node)))
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
            return self.build(node.operand)
        if isinstance(node, ast.Constant):
            return self.number(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.Call):
            return self.call(node)
        return self.fail(f"{type(node).__name__} is not allowed (numbers, y, yhat, + - * / ** and "
                         f"operations by name only)")

    def factors(self, node: ast.AST) -> list[sp.Expr]:
        """The factors of a chain of *, / and unary minus, multiplied at once as SymPy's printers
        wrote them (-(a + b)*c stays a product instead of distributing the sign)."""
        if isinstance(node, ast.UnaryOp):
            return [sp.S.NegativeOne, *self.factors(node.operand)]
        if not isinstance(node, ast.BinOp) or not isinstance(node.op, (ast.Mult, ast.Div)):
            return [self.build(node)]
        left = self.factors(node.left)
        if isinstance(node.op, ast.Mult):
            return left + self.factors(node.right)
        denominator = self.build(node.right)
        if denominator.is_number and denominator.is_nonzero:
            return left + [checked(1 / denominator)]
        return left + [PInv(denominator)]

    def binary(self, node: ast.BinOp) -> sp.Expr:
        left, right = self.build(node.left), self.build(node.right)
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
        operation = self.BINARY.get(type(node.op))
        if operation is None:
            return self.fail(f"the operator {type(node.op).__name__} is not allowed")
        return checked(operation(left, right))

    def number(self, value) -> sp.Expr:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return self.fail(f"{_shown(repr(value))} is not a number")
        if isinstance(value, int):
            if len(str(abs(value))) > MAX_DIGITS:
                return self.fail(f"integers are limited to {MAX_DIGITS} digits")
            return sp.Integer(value)
        if not math.isfinite(value):
            return self.fail("a number overflows a float")
        return sp.Float(value)

    def name(self, name: str) -> sp.Expr:
        if name in SYMBOLS:
            return SYMBOLS[name]
        if name in CONSTANTS:
            return CONSTANTS[name]
        return self.fail(f"unknown name {name!r}: an expression may use y and yhat only")

    def call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = node.func.id if isinstance(node.func, ast.Name) else type(node.func).__name__
            return self.fail(f"unknown function {called!r}")
        if node.keywords:
            return self.fail(f"{node.func.id} takes no keyword arguments")
        arity, build = FUNCTIONS[node.func.id]
        count = len(node.args)
        if (count != arity if arity else count < 2) or any(isinstance(a, ast.Starred) for a in node.args):
            return self.fail(f"{node.func.id} takes {arity or 'two or more'} argument(s), got {count}")
        return checked(build(*(self.build(a) for a in node.args)))


# The SymPy classes a saved expression may name: arithmetic, numbers and what symloss compiles.
SREPR_FUNCTIONS = {cls.__name__: cls for cls in COMPILABLE_FUNCTIONS}
SREPR_FUNCTIONS.update(Add=sp.Add, Mul=sp.Mul, Max=sp.Max, Min=sp.Min)
ASSUMPTIONS = {"nonnegative", "positive", "real", "negative", "nonpositive", "finite", "integer"}


class _SreprBuilder:
    """Builds `sympy.srepr` text back into the expression, from literal arguments only."""

    def __init__(self, text: str):
        self.text = text

    def fail(self, message: str):
        raise ExpressionError(f"cannot read the saved expression {_shown(self.text)}: {message}")

    def build(self, node: ast.AST) -> sp.Expr:
        if isinstance(node, ast.Name) and node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return self.fail(f"{type(node).__name__} is not a SymPy constructor call")
        name = node.func.id
        if name == "Symbol":
            return self.symbol(node)
        if name in ("Integer", "Rational", "Float"):
            return self.number(name, node)
        if node.keywords:
            return self.fail(f"{name} takes no keyword arguments here")
        arguments = [self.build(a) for a in node.args]
        if name == "Pow" and len(arguments) == 2:
            return _power(*arguments)
        function = SREPR_FUNCTIONS.get(name)
        if function is None:
            return self.fail(f"{name!r} is not a class symloss reads")
        try:
            return checked(function(*arguments))
        except (TypeError, ValueError) as error:
            return self.fail(f"{name}: {error}")

    def symbol(self, node: ast.Call) -> sp.Expr:
        names = [self.literal(a, str) for a in node.args]
        if len(names) != 1 or names[0] not in SYMBOLS:
            return self.fail("only the symbols y and yhat are allowed")
        for keyword in node.keywords:
            if keyword.arg not in ASSUMPTIONS:
                return self.fail(f"unknown symbol assumption {keyword.arg!r}")
            self.literal(keyword.value, bool)
        return SYMBOLS[names[0]]

    def number(self, name: str, node: ast.Call) -> sp.Expr:
        if name == "Float":
            if len(node.args) != 1 or any(k.arg not in ("precision", "dps") for k in node.keywords):
                return self.fail("Float takes one value and a precision")
            precision = {k.arg: self.literal(k.value, int) for k in node.keywords}
            if any(not 1 <= p <= 1000 for p in precision.values()):
                return self.fail("a Float's precision is limited to 1000")
            value = self.literal(node.args[0], (str, int, float))
            if isinstance(value, str) and len(value) > 40:
                return self.fail("a Float is written in at most 40 characters")
            try:
                return checked(sp.Float(value, **precision))
            except (TypeError, ValueError) as error:
                return self.fail(f"Float: {error}")
        values = [self.literal(a, int) for a in node.args]
        if node.keywords or len(values) != (1 if name == "Integer" else 2):
            return self.fail(f"{name} takes {'one integer' if name == 'Integer' else 'two integers'}")
        if any(len(str(abs(v))) > MAX_DIGITS for v in values):
            return self.fail(f"integers are limited to {MAX_DIGITS} digits")
        if name == "Rational" and values[1] == 0:
            return self.fail("Rational with a zero denominator")
        return sp.Integer(values[0]) if name == "Integer" else sp.Rational(*values)

    def literal(self, node: ast.AST, kinds):
        """A literal argument (a negative number included) of the given Python type(s)."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
            value = node.operand.value
            if isinstance(value, (int, float)) and not isinstance(value, bool) and isinstance(value, kinds):
                return -value
        if isinstance(node, ast.Constant) and isinstance(node.value, kinds):
            if kinds is not bool and isinstance(node.value, bool):
                return self.fail("a boolean is not a number")
            if isinstance(node.value, int) and not isinstance(node.value, bool) and len(str(abs(node.value))) > 4 * MAX_DIGITS:
                return self.fail("an integer literal is too long")
            return node.value
        return self.fail(f"expected a literal, got {type(node).__name__}")

"""A reader for the LaTeX that symloss writes, independent of symloss, for the tests.

It reads the subset of LaTeX that SymPy's printer and symloss's primitives emit (fractions,
roots, powers, absolute values, implicit products, the functions of the search space) into a
SymPy expression over plain functions, so that a written equation can be evaluated at sample
points and compared with the loss it claims to be.
"""
import re

import sympy as sp

Y, YHAT = sp.Symbol("y"), sp.Symbol("yhat")
TOKEN = re.compile(r"\\left\(|\\left\||\\right\)|\\right\||\\[a-zA-Z]+|\\[,;!]|\d+(?:\.\d+)?|\S")
FUNCTIONS = {
    r"\log": sp.log, r"\ln": sp.log, r"\sin": sp.sin, r"\cos": sp.cos, r"\sinh": sp.sinh, r"\cosh": sp.cosh,
    r"\tanh": sp.tanh, r"\arctan": sp.atan, r"\sigma": lambda x: 1 / (1 + sp.exp(-x)),
    "erf": sp.erf, "erfc": sp.erfc, "asinh": sp.asinh, "arsinh": sp.asinh, "atan": sp.atan,
    "I_0": lambda x: sp.besseli(0, x), "I_1": lambda x: sp.besseli(1, x),
    r"\max": sp.Max, r"\min": sp.Min,
}


class Reader:
    def __init__(self, text: str):
        self.tokens = [t for t in TOKEN.findall(text) if t not in (r"\,", r"\;", r"\!")]
        self.at = 0

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected=None):
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise SyntaxError(f"expected {expected!r}, found {token!r} at token {self.at} of {self.tokens}")
        self.at += 1
        return token

    def read(self):
        expr = self.sum()
        if self.peek() is not None:
            raise SyntaxError(f"unread tokens from {self.at}: {self.tokens[self.at:]}")
        return expr

    def sum(self):
        expr = self.product()
        while self.peek() in ("+", "-"):
            expr = expr + self.product() if self.take() == "+" else expr - self.product()
        return expr

    def product(self):
        expr = self.signed()
        while True:
            token = self.peek()
            if token == r"\cdot":
                self.take()
                expr = expr * self.signed()
            elif token is not None and self.starts_factor(token):
                expr = expr * self.power()
            else:
                return expr

    def signed(self):
        if self.peek() == "-":
            self.take()
            return -self.signed()
        return self.power()

    @staticmethod
    def starts_factor(token):
        return (token[0].isdigit() or token in ("y", "e", "{", r"\left(", r"\left|", r"\frac", r"\sqrt", r"\hat",
                                                r"\pi", r"\operatorname", "I") or token in FUNCTIONS)

    def power(self):
        base = self.atom()
        if self.peek() == "^":
            self.take()
            base = base ** self.group()
        return base

    def group(self):
        if self.peek() != "{":
            return self.atom()
        self.take("{")
        expr = self.sum()
        self.take("}")
        return expr

    def atom(self):
        token = self.take()
        if token[0].isdigit():
            return sp.Float(token) if "." in token else sp.Integer(token)
        if token == "y":
            return Y
        if token == "e":
            return sp.E
        if token == r"\pi":
            return sp.pi
        if token == r"\hat":
            self.take("{")
            self.take("y")
            self.take("}")
            return YHAT
        if token == "{":
            expr = self.sum()
            self.take("}")
            return expr
        if token == r"\left(":
            expr = self.sum()
            self.take(r"\right)")
            return expr
        if token == r"\left|":
            expr = self.group() if self.peek() == "{" else self.sum()
            self.take(r"\right|")
            return sp.Abs(expr)
        if token == r"\frac":
            return self.group() / self.group()
        if token == r"\sqrt":
            return sp.sqrt(self.group())
        if token == r"\operatorname":
            self.take("{")
            name = "".join(iter(self.take, "}"))
            return self.apply(name)
        if token == "I":
            self.take("_")
            self.take("{")
            order = self.take()
            self.take("}")
            return self.apply(f"I_{order}")
        if token in FUNCTIONS:
            return self.apply(token)
        raise SyntaxError(f"unexpected {token!r} at token {self.at - 1} of {self.tokens}")

    def apply(self, name):
        if name == r"\log" and self.peek() == "_":  # \log_{10}
            self.take("_")
            base = self.group()
            return self.apply(name) / sp.log(base)
        exponent = None
        if self.peek() == "^":
            self.take()
            exponent = self.group()
        if self.peek() == r"\left|":  # \log\left|x\right| is log(|x|)
            self.take()
            argument = sp.Abs(self.sum())
            self.take(r"\right|")
            value = FUNCTIONS[name](argument)
            return value if exponent is None else value ** exponent
        braced = self.peek() == "{"
        if braced:
            self.take("{")
        self.take(r"\left(")
        arguments = [self.sum()]
        while self.peek() == ",":
            self.take()
            arguments.append(self.sum())
        self.take(r"\right)")
        if braced:
            self.take("}")
        value = FUNCTIONS[name](*arguments)
        return value if exponent is None else value ** exponent


def read(text: str) -> sp.Expr:
    return Reader(text).read()

"""Export a loss for use where symloss is not installed: one function per target format.

    torch   a standalone module defining `SymbolicLoss(torch.nn.Module)`: forward(logits, target)
            behaves as `loss.module()` (eps protection included); it imports torch only
    python  the same term as a plain function `per_sample_loss(y, yhat)` on torch tensors
    latex   the equation of the elementwise term
    sympy   the expression as `sympy.srepr` (symloss's primitives by name)
    json    the genome in the exchange format (losses that came from a genome)
"""
from __future__ import annotations

import ast
import json
from typing import Callable

import sympy as sp

from . import __version__
from .codegen import term_source
from .errors import ExpressionError
from .loss import Loss
from .ops import TORCH_NAMESPACE

HEADER = '''"""A symbolic loss exported by symloss {version}; it needs only torch.

The loss of one sample is the sum over classes of the elementwise term f(y, yhat) in the
comments below, with y the target distribution and yhat = softmax(logits). Logarithms and
divisions are protected as in symloss: eps is added to their operand once it is computed.
"""
{comments}
import torch

{constants}

'''

FUNCTIONS = '''

def per_sample_loss(y, yhat):
    """The loss of each sample, shape (B,), for (B, C) targets y and predictions yhat."""
    value = term(y, yhat)[0]
    return (yhat * 0 + value).sum(dim=-1)  # constants and y-only terms broadcast, with a gradient path
'''

MODULE = '''

class SymbolicLoss(torch.nn.Module):
    """forward(logits, target) -> mean loss; target: class indices (B,) or probabilities (B, C)."""

    def __init__(self, label_smoothing={label_smoothing!r}):
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {{label_smoothing}}")
        self.label_smoothing = label_smoothing

    def forward(self, logits, target):
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()
        classes = logits.shape[-1]
        if target.dim() == logits.dim() - 1:
            y = torch.nn.functional.one_hot(target.long(), classes).to(logits.dtype)
        else:
            y = target.to(logits.dtype)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / classes
        return per_sample_loss(y, torch.softmax(logits, dim=-1)).mean()
'''


def _header(loss: Loss) -> str:
    """The module's header; text from the loss (its name, formula, LaTeX) goes into comments only."""
    described = [("loss", loss.name or "a symbolic loss"),
                 ("origin", "a genome" if loss.genome is not None else "an expression"),
                 ("f(y, yhat)", loss.text()), ("LaTeX", loss.latex())]
    comments = "\n".join(f"# {label}: {_comment_text(text)}" for label, text in described)
    constants = "\n".join(f"{name} = {value!r}" for name, value in TORCH_NAMESPACE.items() if name != "torch")
    return HEADER.format(version=__version__, comments=comments, constants=constants)


def _comment_text(text: str) -> str:
    """Text that stays inside one comment line: printable ASCII kept, anything else escaped."""
    return "".join(c if " " <= c <= "~" else ascii(c)[1:-1] for c in text)


def _checked_source(source: str) -> str:
    """Generated source, parsed back: only a docstring, imports, constants, functions and classes."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise ExpressionError(f"the exported source does not parse ({error.msg}); nothing was written") from None
    allowed = (ast.Import, ast.Assign, ast.FunctionDef, ast.ClassDef)
    docstring, *body = tree.body
    if not (isinstance(docstring, ast.Expr) and isinstance(docstring.value, ast.Constant)) or \
            not all(isinstance(statement, allowed) for statement in body):
        raise ExpressionError("the exported source has an unexpected statement; nothing was written")
    return source


def to_python(loss: Loss) -> str:
    return _checked_source(_python_source(loss))


def to_torch(loss: Loss) -> str:
    return _checked_source(_python_source(loss) + MODULE.format(label_smoothing=float(loss.label_smoothing)))


def _python_source(loss: Loss) -> str:
    return _header(loss) + term_source((loss.expr,)) + FUNCTIONS


def to_latex(loss: Loss) -> str:
    return loss.latex() + "\n"


def to_sympy(loss: Loss) -> str:
    return sp.srepr(loss.expr) + "\n"


def to_json(loss: Loss) -> str:
    if loss.genome is None:
        raise ExpressionError("this loss has no genome (it came from an expression): export it as torch, "
                              "python, latex or sympy")
    return json.dumps(loss.genome.to_dict(), indent=2) + "\n"


FORMATS: dict[str, Callable[[Loss], str]] = {
    "torch": to_torch, "python": to_python, "latex": to_latex, "sympy": to_sympy, "json": to_json,
}


def export(loss: Loss, fmt: str) -> str:
    if fmt not in FORMATS:
        raise ExpressionError(f"unknown export format {fmt!r} (one of {', '.join(FORMATS)})")
    return FORMATS[fmt](loss)

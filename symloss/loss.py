"""Loss: a symbolic loss with its key, LaTeX, torch function and nn.Module."""
from __future__ import annotations

import json
import math
from functools import cached_property
from pathlib import Path
from typing import Callable

import numpy as np
import sympy as sp
import torch
from torch import nn

from . import codegen, files, parsing, phenotype, printing, symbolic
from .errors import ExpressionError
from .genome import Genome
from .phenotype import Verdict

PerSample = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SAVE_FORMAT = "symloss.loss/1"
INPUT_BUDGET_S = 10.0  # hang guard for reading, simplifying and compiling a user's expression or file
GENOME_BUDGET_S = 60.0  # the same for a genome (the slowest seen takes about 2 s)
MAX_FILE_BYTES = 1 << 20  # a saved loss or a genome file is a few kilobytes
MAX_NAME = 255  # characters of a loss's name (a file name's length)
SPLIT_FROM_CLASSES = 200  # where r(p) sum_j + c(p_t) overtakes one-hot rows (measured crossover, CPU)
MIXED_FROM_CLASSES = 500  # where soft targets are taken as sparse: below, finding their nonzeros costs more
# (random losses, CPU: the dense path faster on 20 of 30 at 400 classes, the sparse on 19 of 30 at 600)
MAX_MIXED = 4  # nonzero targets per row that soft targets may have to be taken as sparse (mixup: 2)


class Loss:
    """A loss: `expr` is the elementwise term f(y, yhat), its sign folded in.

    The per-sample loss is the sum of f over classes; the batch loss is its mean.
    """

    def __init__(self, expr: sp.Expr, *, genome: Genome | None = None, name: str | None = None,
                 label_smoothing: float = 0.0, simplified: bool = True):
        if not isinstance(expr, sp.Expr):
            raise ExpressionError(f"a Loss holds a SymPy expression, not {type(expr).__name__} "
                                  "(text goes through Loss.parse)")
        self.expr = symbolic.require_defined(expr)
        self.genome = genome
        self.name = _checked_name(name)
        self.label_smoothing = _checked_smoothing(label_smoothing)
        self.simplified = simplified  # False when the expression was too large to simplify

    # ---- construction --------------------------------------------------------------
    @classmethod
    def from_genome(cls, genome: Genome, *, name: str | None = None) -> "Loss":
        """The loss of any well-formed genome, simplified (the same in every process)."""
        with symbolic.time_budget(GENOME_BUDGET_S, "simplifying the genome"):
            raw = symbolic.require_defined(symbolic.from_genome(genome))
            expr, simplified = _simplified(raw)
        return cls(expr, genome=genome, name=name, simplified=simplified)

    @classmethod
    def parse(cls, text: str, *, name: str | None = None) -> "Loss":
        """A loss from an expression over y and yhat, e.g. ``"-y*log(yhat)"``: numbers, + - * / **
        and the operations by name; log and division take the protected forms."""
        with symbolic.time_budget(INPUT_BUDGET_S, "reading the expression"):
            expr, simplified = _simplified(symbolic.require_defined(parsing.parse_expression(text)))
        return cls(expr, name=name, simplified=simplified)

    # ---- persistence -------------------------------------------------------------------
    def to_dict(self) -> dict:
        """The saved form: the expression exactly (srepr), and the genome where there is one."""
        return {"format": SAVE_FORMAT, "name": self.name, "expression": sp.srepr(self.expr),
                "text": self.text(), "latex": self.latex(), "key": self.key,
                "genome": None if self.genome is None else self.genome.to_dict(),
                "label_smoothing": self.label_smoothing, "simplified": self.simplified}

    @classmethod
    def from_dict(cls, document: dict) -> "Loss":
        """A saved loss, read by a whitelist (nothing in it runs); the genome when the
        expression cannot be read."""
        if not isinstance(document, dict) or document.get("format") != SAVE_FORMAT:
            raise ExpressionError(f"not a saved symloss loss (expected format {SAVE_FORMAT!r})")
        genome = Genome.from_dict(document["genome"]) if document.get("genome") else None
        fields = dict(name=document.get("name"), label_smoothing=document.get("label_smoothing", 0.0))
        try:
            with symbolic.time_budget(INPUT_BUDGET_S, "reading the saved expression"):
                expr = parsing.parse_srepr(document.get("expression", ""))
                codegen.term_source((expr,))
        except ExpressionError:
            if genome is None:
                raise
            loss = cls.from_genome(genome, name=fields["name"])
            loss.label_smoothing = _checked_smoothing(fields["label_smoothing"])
            return loss
        return cls(expr, genome=genome, simplified=document.get("simplified", True) is not False, **fields)

    def save(self, path: str | Path) -> Path:
        """Write the loss as JSON; `Loss.load(path)` reads it back with the same key and values."""
        return files.write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path) -> "Loss":
        """A loss saved with `save` (see `symloss.references.load_file` for genome files too)."""
        return cls.from_dict(files.read_json(path, "loss file", ExpressionError, MAX_FILE_BYTES))

    # ---- views -----------------------------------------------------------------------
    @cached_property
    def key(self) -> str:
        """Canonical key: losses with equal simplified expressions share it."""
        return symbolic.canonical_key(self.expr)

    def latex(self, explicit_eps: bool = False, digits: int = printing.LATEX_DIGITS) -> str:
        """The elementwise term in LaTeX, constants to `digits` significant digits (eps shown where
        it protects with explicit_eps)."""
        return printing.latex(self.expr, explicit_eps, digits)

    def text(self) -> str:
        """The elementwise term as text, in the operations' names; Loss.parse reads it back."""
        return printing.text(self.expr)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        label = f"{self.name}: " if self.name else ""
        return f"Loss({label}{self.text()})"

    # ---- torch -------------------------------------------------------------------------
    @cached_property
    def _term(self) -> codegen.CompiledTerm:
        return codegen.CompiledTerm(self.expr)

    def term(self) -> codegen.CompiledTerm:
        """f(y, yhat) -> the elementwise term, shape of the broadcast inputs."""
        return self._term

    def torch(self) -> PerSample:
        """f(y, yhat) -> the per-sample loss, shape (B,), for (B, C) inputs."""
        term = self._term

        def per_sample(y: torch.Tensor, yhat: torch.Tensor) -> torch.Tensor:
            return term(y, yhat).sum(dim=-1)

        return per_sample

    @cached_property
    def _with_gradient(self) -> codegen.CompiledTerm | None:
        """f and df/dyhat (SymPy's derivative) in one function, or None when it has no torch form
        (yhat df/dyhat compiled as one term measured 3x slower at C=1000 on the CPU)."""
        try:
            return codegen.CompiledTerm(self.expr, sp.diff(codegen.stable_form(self.expr), symbolic.YHAT))
        except ExpressionError:
            return None

    @cached_property
    def _at_class_indices(self) -> "_AtClassIndices | None":
        """The loss specialised to class-index (one-hot) targets (None where a term has no torch form)."""
        try:
            return _AtClassIndices.of(codegen.stable_form(self.expr))
        except ExpressionError:
            return None

    def module(self, label_smoothing: float | None = None, fused: bool = True) -> "LossModule":
        """A drop-in criterion: forward(logits, target) -> mean loss.

        `fused` computes softmax, the loss and its symbolic gradient in one autograd node
        (faster; first derivatives only), specialised to class-index targets without label
        smoothing (f(0, .) and f(1, .) folded at compile time, see _AtClassIndices); it falls back
        to autograd through the term when a derivative has no torch form or the targets require
        a gradient.
        """
        smoothing = self.label_smoothing if label_smoothing is None else label_smoothing
        return LossModule(self._term, self._with_gradient if fused else None, smoothing, repr(self),
                          self._at_class_indices if fused else None)

    # ---- phenotype and validity -----------------------------------------------------
    def binary_curve(self) -> np.ndarray:
        return phenotype.binary_curve(self.torch())

    def check(self) -> Verdict:
        """The search's validity verdict: the genome's, or the integrity check on the curve."""
        if self.genome is not None:
            return self.genome.check()
        return phenotype.integrity(self.binary_curve())


def _through_softmax(yhat: torch.Tensor, gradient: torch.Tensor, scale) -> torch.Tensor:
    """dL/dz from g = dL/dyhat for yhat = softmax(z): yhat * (g - sum_j yhat_j g_j), times `scale`."""
    g_yhat = gradient * yhat
    return torch.addcmul(g_yhat, yhat, g_yhat.sum(dim=-1, keepdim=True), value=-1).mul_(scale)


class _SoftmaxLoss(torch.autograd.Function):
    """mean_b sum_c f(y, softmax(z)), its backward from df/dyhat and the softmax Jacobian."""

    @staticmethod
    def forward(ctx, logits, y, with_gradient):
        yhat = torch.softmax(logits, dim=-1)
        (value, value_coefficient), (gradient, g_coefficient) = with_gradient.factored(y, yhat)
        ctx.save_for_backward(yhat, gradient)
        ctx.scale = g_coefficient / yhat.shape[0]
        return value.sum() * (value_coefficient / yhat.shape[0])

    @staticmethod
    def backward(ctx, grad_output):
        yhat, gradient = ctx.saved_tensors
        return _through_softmax(yhat, gradient, grad_output * ctx.scale), None, None


class _AtClassIndices:
    """A loss at sparse targets, f(0, p) folded by SymPy once: a sample whose target is y_k on
    the classes t_k (one-hot: y = 1 on one class; mixup: two) and 0 elsewhere has the loss
    sum_j r(p_j) + sum_k c(y_k, p_{t_k}), with r = f(0, .) and c(y, p) = f(y, p) - f(0, p);
    for one-hot targets c(1, .) is folded too (`column`).

    Where r is linear, r(p) = a p + b (cross-entropy, focal, every y*g(yhat) have r = 0), the sum
    is a + b C since the p_j sum to 1, and its gradient through the softmax is 0: only the target
    columns are computed, and the gradient has the closed form sum_k s_k (onehot_k - p) with
    s_k = c'(y_k, p_k) p_k. Elsewhere r and r' are computed over every class (`rest`)."""

    def __init__(self, rest: sp.Expr, correction: sp.Expr):
        p = symbolic.YHAT
        slope = sp.diff(rest, p)
        linear = not slope.has(p)
        self.rest = None if linear else codegen.CompiledTerm(rest, slope)
        self.constant = (float(slope), float(rest.subs(p, 0))) if linear else None  # (a, b)
        factor = p if linear else 1
        column = correction.subs(symbolic.Y, 1)
        self.column = codegen.CompiledTerm(column, sp.diff(column, p) * factor)
        self.correction = codegen.CompiledTerm(correction, sp.diff(correction, p) * factor)

    @classmethod
    def of(cls, expr: sp.Expr) -> "_AtClassIndices":
        """The loss `expr` (its stable form) split at y = 0; an ExpressionError when a part has
        no torch form or f is not finite at y = 0 or 1."""
        rest, at_target = expr.subs(symbolic.Y, 0), expr.subs(symbolic.Y, 1)
        if any(e.has(sp.zoo, sp.nan, sp.oo, -sp.oo) for e in (rest, at_target)):
            raise ExpressionError("the loss is not finite at a one-hot target")
        try:
            return cls(rest, expr - rest)
        except TypeError as error:  # a coefficient of a linear r that is not a number
            raise ExpressionError(f"no torch form at a one-hot target ({error})") from None

    def linear_sum(self, classes: int) -> float:
        """sum_j r(p_j) = a + b C, the same for every sample (r linear)."""
        a, b = self.constant
        return a + b * classes


class _SparseSoftmaxLoss(torch.autograd.Function):
    """mean_b [sum_j r(p_j) + sum_k c(y_k, p_{t_k})] for p = softmax(z) (_AtClassIndices);
    `index` (B, K) holds the t_k, `values` (B, K) the y_k (None: class indices, y = 1)."""

    @staticmethod
    def forward(ctx, logits, index, values, terms: _AtClassIndices):
        p = torch.softmax(logits, dim=-1)
        p_k = p.gather(-1, index)
        batch = p.shape[0]
        term = terms.column.factored(p_k, p_k) if values is None else terms.correction.factored(values, p_k)
        (value, value_coefficient), (slope, slope_coefficient) = term
        total = value.sum() * (value_coefficient / batch)
        slope = slope * (slope_coefficient / batch)
        ctx.closed_form = terms.rest is None
        if ctx.closed_form:
            ctx.save_for_backward(p, index, slope)
            rest = terms.linear_sum(p.shape[-1])
            return total + rest if rest else total
        (rest, rest_coefficient), (gradient, g_coefficient) = terms.rest.factored(p, p)
        ctx.save_for_backward(p, (gradient * (g_coefficient / batch)).scatter_add_(-1, index, slope))
        return total + rest.sum() * (rest_coefficient / batch)

    @staticmethod
    def backward(ctx, grad_output):
        if not ctx.closed_form:
            p, gradient = ctx.saved_tensors
            return _through_softmax(p, gradient, grad_output), None, None, None
        p, index, slope_p = ctx.saved_tensors
        scale = slope_p * grad_output  # dL/dz = sum_k s_k (onehot_k - p), s_k = c'(y_k, p_k) p_k
        total = scale if scale.shape[-1] == 1 else scale.sum(dim=-1, keepdim=True)
        return (p * total.neg()).scatter_add_(-1, index, scale), None, None, None


class LossModule(nn.Module):
    """torch.nn.Module wrapper: yhat = softmax(logits); targets are indices or probabilities."""

    def __init__(self, term: codegen.CompiledTerm, with_gradient: codegen.CompiledTerm | None = None,
                 label_smoothing: float = 0.0, description: str = "", at_class_indices: _AtClassIndices | None = None):
        super().__init__()
        self.term = term
        self.with_gradient = with_gradient  # the fused path, when it compiles
        self.at_class_indices = at_class_indices  # the fused path for class-index targets
        self.label_smoothing = _checked_smoothing(label_smoothing)
        self.description = description

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()
        classes = logits.shape[-1]
        if target.dim() == logits.dim() - 1:
            index = target.unsqueeze(-1) if target.dtype == torch.int64 else target.long().unsqueeze(-1)
            if self._specialised(classes):
                return _SparseSoftmaxLoss.apply(logits, index, None, self.at_class_indices)
            y = torch.zeros_like(logits, requires_grad=False).scatter_(-1, index, 1.0)
        else:
            y = target.to(logits.dtype)
            if not y.requires_grad and classes >= MIXED_FROM_CLASSES and self._specialised(classes):
                sparse = _sparse(y)
                if sparse is not None:
                    return _SparseSoftmaxLoss.apply(logits, *sparse, self.at_class_indices)
        if self.label_smoothing:
            y = y * (1 - self.label_smoothing) + self.label_smoothing / classes
        if self.with_gradient is not None and not y.requires_grad:
            return _SoftmaxLoss.apply(logits, y, self.with_gradient)
        return self.term.batch_mean(y, torch.softmax(logits, dim=-1))

    def _specialised(self, classes: int) -> bool:
        """Whether sparse targets take the _AtClassIndices path: always where r = f(0, .) is
        linear; from SPLIT_FROM_CLASSES classes on where it is not (below, one-hot rows through
        the general path were the faster on 15 of 15 random losses at 10 classes, 11 of 15 at 100),
        never with label smoothing (its targets are dense)."""
        terms = self.at_class_indices
        return (terms is not None and not self.label_smoothing
                and (terms.rest is None or classes >= SPLIT_FROM_CLASSES))

    def extra_repr(self) -> str:
        return f"{self.description}, label_smoothing={self.label_smoothing}"


def _sparse(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(classes, values) of the nonzero targets of each row, (B, K) each, when no row has more
    than MAX_MIXED (mixup mixes two); None otherwise."""
    count = int((y != 0).sum(dim=-1).max())
    if count > MAX_MIXED:
        return None
    index = y.abs().topk(max(count, 1), dim=-1).indices
    return index, y.gather(-1, index)


def _simplified(raw: sp.Expr) -> tuple[sp.Expr, bool]:
    """The simplified form when it is defined and compiles, else the raw one (which must compile)."""
    expr, finished = symbolic.simplify(raw)
    if expr is not raw and symbolic.undefined_reason(expr) is None:
        try:
            codegen.term_source((expr,))
            return expr, finished
        except ExpressionError:
            pass
    codegen.term_source((raw,))
    return raw, finished


def _checked_name(name) -> str | None:
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME):
        raise ExpressionError(f"a loss's name must be text of at most {MAX_NAME} characters")
    return name


def _checked_smoothing(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not 0.0 <= value < 1.0:
        raise ExpressionError(f"label_smoothing must be a number in [0, 1), not {str(value)[:40]!r}")
    return float(value)

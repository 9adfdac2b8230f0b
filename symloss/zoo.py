"""Named losses: cross-entropy and published losses whose exact formulas are known.

The paper's own evolved losses (its Table 4) are not here: their equations are not
available to this project, and symloss does not guess them.
"""
from __future__ import annotations

from dataclasses import dataclass

from .errors import ExpressionError
from .genome import Genome
from .loss import Loss

CE_GENOME = {"format": "symloss.genome/1",
             "nodes": [{"id": "h0", "op": "ln", "args": ["yhat"]},
                       {"id": "h1", "op": "mul", "args": ["y", "h0"]},
                       {"id": "h2", "op": "exp", "args": ["-1"]},
                       {"id": "h3", "op": "add", "args": ["h2", "1"]},
                       {"id": "root", "op": "neg", "args": ["h1"]}],
             "flip": False}


@dataclass(frozen=True)
class Entry:
    expression: str
    source: str
    label_smoothing: float = 0.0


CE = "-y*log(yhat)"  # the CE genome's loss; the zoo builds it from the genome
ZOO: dict[str, Entry] = {
    "ce": Entry(CE, "cross-entropy (the spec's CE genome)"),
    "ce_ls": Entry(CE, "cross-entropy with label smoothing 0.1 (Szegedy et al. 2016)", 0.1),
    "baikal": Entry("-(log(yhat) - y/yhat)",
                    "Baikal loss, Gonzalez & Miikkulainen 2020: -(1/n) sum(log(yhat) - y/yhat), here "
                    "without its constant factor 1/n (n classes): n times the published value"),
    "focal": Entry("-y*(1 - yhat)**2*log(yhat)", "focal loss with gamma = 2, Lin et al. 2017"),
    "mse": Entry("(y - yhat)**2", "squared error on probabilities (Brier score)"),
    "mae": Entry("Abs(y - yhat)", "absolute error on probabilities"),
}


def names() -> list[str]:
    return sorted(ZOO)


def get(name: str) -> Loss:
    """The zoo loss called `name` (ExpressionError for an unknown name)."""
    if name not in ZOO:
        raise ExpressionError(f"unknown zoo loss {name!r} (known: {', '.join(names())})")
    entry = ZOO[name]
    loss = Loss.from_genome(ce_genome(), name=name) if entry.expression == CE else Loss.parse(entry.expression, name=name)
    loss.label_smoothing = entry.label_smoothing
    return loss


def ce_genome() -> Genome:
    """Cross-entropy as a genome, exactly as SEARCH_SPACE.md writes it."""
    return Genome.from_dict(CE_GENOME)

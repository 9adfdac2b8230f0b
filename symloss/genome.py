"""Genomes: a loss as a small networkx DAG over the inputs y, yhat, 1 and -1.

Four hidden nodes h0..h3 and a root each apply one operation of `symloss.ops`.
Only the part the root reaches is active; inactive nodes are carried for mutation.
"""
from __future__ import annotations

import json
from functools import cached_property
from typing import Any, Mapping, Sequence

import networkx as nx
import numpy as np
import torch

from . import phenotype
from .errors import GenomeError
from .ops import BINARY_NAMES, OPS, UNARY_NAMES
from .phenotype import Verdict

FORMAT = "symloss.genome/1"
INPUTS = ("y", "yhat", "1", "-1")
HIDDEN = ("h0", "h1", "h2", "h3")
ROOT = "root"
NODE_IDS = HIDDEN + (ROOT,)

# The reference distribution of random genomes and of mutation (SEARCH_SPACE.md).
P_HIDDEN_UNARY = 0.7
P_ROOT_UNARY = 0.2
P_CHANGE_OP = 0.30  # r >= this: change the operation
P_REWIRE = 0.15  # this <= r < P_CHANGE_OP: rewire; below: toggle arity
P_SWAP = 0.2

Nodes = Mapping[str, tuple[str, tuple[str, ...]]]


def as_rng(seed_or_rng: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, or the Generator itself."""
    if isinstance(seed_or_rng, np.random.Generator):
        return seed_or_rng
    return np.random.default_rng(seed_or_rng)


def sources(node: str) -> tuple[str, ...]:
    """What `node` may read: inputs and other hidden nodes; the root reads hidden nodes only."""
    if node == ROOT:
        return HIDDEN
    return INPUTS + tuple(h for h in HIDDEN if h != node)


class Genome:
    """An immutable genome. Build it from `from_dict`, `random` or `mutate`."""

    def __init__(self, nodes: Nodes, flip: bool | None = None):
        self.nodes: dict[str, tuple[str, tuple[str, ...]]] = {
            node: (op, tuple(args)) for node, (op, args) in nodes.items()}
        self._flip = flip
        _check_structure(self.nodes)
        if flip is not None and not isinstance(flip, bool):
            raise GenomeError(f"flip must be true or false, not {_shown(flip)}")
        self.graph = nx.DiGraph()
        self.graph.add_nodes_from(INPUTS)
        self.graph.add_nodes_from((node, {"op": op, "args": args}) for node, (op, args) in self.nodes.items())
        self.graph.add_edges_from((arg, node) for node, (_, args) in self.nodes.items() for arg in args)

    # ---- exchange format -------------------------------------------------------
    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> "Genome":
        """Read the exchange format; rejects anything malformed, a cycle among active nodes included."""
        if not isinstance(document, Mapping):
            raise GenomeError("a genome must be a JSON object")
        if document.get("format", FORMAT) != FORMAT:
            raise GenomeError(f"unknown genome format {_shown(document.get('format'))} (expected {FORMAT!r})")
        unknown = set(document) - {"format", "nodes", "flip"}
        if unknown:
            raise GenomeError(f"unknown genome field(s): {_shown(sorted(map(str, unknown)))}")
        entries = document.get("nodes")
        if not isinstance(entries, Sequence) or isinstance(entries, str):
            raise GenomeError("a genome needs a list 'nodes'")
        nodes = {}
        for entry in entries:
            if not isinstance(entry, Mapping) or set(entry) != {"id", "op", "args"}:
                raise GenomeError(f"each node needs exactly 'id', 'op' and 'args': {_shown(entry)}")
            node, op, args = entry["id"], entry["op"], entry["args"]
            if not isinstance(node, str) or not isinstance(op, str):
                raise GenomeError(f"a node's 'id' and 'op' must be names: {_shown(entry)}")
            if node in nodes:
                raise GenomeError(f"node {_shown(node)} is given twice")
            if not isinstance(args, Sequence) or isinstance(args, str) or not all(isinstance(a, str) for a in args):
                raise GenomeError(f"node {_shown(node)}: 'args' must be a list of names")
            nodes[node] = (op, tuple(args))
        genome = cls(nodes, document.get("flip"))
        genome.order()
        return genome

    def to_dict(self) -> dict[str, Any]:
        """The exchange format; `flip` is left out when it is unknown (an invalid genome given without one)."""
        document = {"format": FORMAT,
                    "nodes": [{"id": n, "op": op, "args": list(args)} for n, (op, args) in self.nodes.items()]}
        if self.flip is not None:
            document["flip"] = self.flip
        return document

    @classmethod
    def from_json(cls, text: str) -> "Genome":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise GenomeError(f"not JSON: {error}") from None
        return cls.from_dict(document)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    # ---- structure -------------------------------------------------------------
    @cached_property
    def active(self) -> frozenset[str]:
        """The nodes and inputs the root reaches (the root included)."""
        return frozenset(nx.ancestors(self.graph, ROOT) | {ROOT})

    def active_cycle(self) -> list[str]:
        """One cycle among active nodes, or [] when the active part is a DAG."""
        try:
            return [u for u, _ in nx.find_cycle(self.graph.subgraph(self.active))]
        except nx.NetworkXNoCycle:
            return []

    @cached_property
    def _order(self) -> tuple[str, ...] | None:
        active = nx.DiGraph(self.graph.subgraph(self.active))
        try:
            return tuple(n for n in nx.topological_sort(active) if n in NODE_IDS)
        except nx.NetworkXUnfeasible:
            return None

    def order(self) -> tuple[str, ...]:
        """Active nodes in evaluation order (operands first); GenomeError on a cycle."""
        if self._order is None:
            raise GenomeError(f"cycle among active nodes: {' -> '.join(self.active_cycle())}")
        return self._order

    @property
    def flip(self) -> bool | None:
        """The sign given with the genome, or else the one the integrity check derives
        (None for an invalid genome given without one)."""
        if self._flip is not None:
            return self._flip
        return self.check().flip

    # ---- evaluation and validity -------------------------------------------------
    def evaluate(self, y: torch.Tensor, yhat: torch.Tensor, flip: bool | None = None) -> torch.Tensor:
        """The per-sample loss (B,) by direct protected evaluation, node by node."""
        y, yhat = torch.broadcast_tensors(y, yhat)
        values = {"y": y, "yhat": yhat, "1": torch.ones_like(y), "-1": torch.full_like(y, -1.0)}
        for node in self.order():
            op, args = self.nodes[node]
            values[node] = OPS[op].fn(*(values[a] for a in args))
        per_sample = values[ROOT].sum(dim=-1)
        return -per_sample if (self.flip if flip is None else flip) else per_sample

    def check(self) -> Verdict:
        """Validity (SEARCH_SPACE.md): acyclic, y and yhat active, the integrity check (flip off)."""
        return self._verdict

    @cached_property
    def _verdict(self) -> Verdict:
        unused = [name for name in ("y", "yhat") if name not in self.active]
        if unused:
            return Verdict(False, reason=f"{' and '.join(unused)} not used by the active nodes")
        if self._order is None:
            return Verdict(False, reason=f"cycle among active nodes: {' -> '.join(self.active_cycle())}")
        return phenotype.integrity(self.binary_curve())

    def binary_curve(self) -> np.ndarray:
        """The raw binary phenotype with flip off."""
        return self._curve

    @cached_property
    def _curve(self) -> np.ndarray:
        return phenotype.binary_curve(lambda y, yhat: self.evaluate(y, yhat, flip=False))

    def normalised_phenotype(self) -> np.ndarray:
        return phenotype.normalised(self.binary_curve(), self.flip)

    # ---- random genomes and mutation -------------------------------------------
    @classmethod
    def random(cls, seed_or_rng: int | np.random.Generator | None = None) -> "Genome":
        """A random valid genome drawn from the reference distribution (redrawn until valid)."""
        rng = as_rng(seed_or_rng)
        while True:
            genome = cls(_random_nodes(rng))
            verdict = genome.check()
            if verdict.valid:
                return genome.with_flip(verdict.flip)

    def mutate(self, rng: int | np.random.Generator | None = None) -> "Genome":
        """One mutation of one active node (SEARCH_SPACE.md). The child may be invalid; its flip is unset."""
        rng = as_rng(rng)
        candidates = sorted(n for n in self.active if n in NODE_IDS)
        node = candidates[rng.integers(len(candidates))]
        op, args = self.nodes[node]
        r = rng.random()
        if r >= P_CHANGE_OP:
            pool = UNARY_NAMES if len(args) == 1 else BINARY_NAMES
            op = _choose(rng, [o for o in pool if o != op])
        elif r >= P_REWIRE:
            args = _rewire(rng, node, args)
        else:
            op, args = _toggle_arity(rng, node, args)
        nodes = dict(self.nodes)
        nodes[node] = (op, args)
        return Genome(nodes)

    def with_flip(self, flip: bool | None) -> "Genome":
        """The same genome with its sign fixed (the validity verdict carries over)."""
        twin = Genome(self.nodes, flip)
        for cached in ("_verdict", "_curve"):  # they do not depend on the sign
            if cached in self.__dict__:
                twin.__dict__[cached] = self.__dict__[cached]
        return twin

    # ---- value semantics ---------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Genome) and (self.nodes, self._flip) == (other.nodes, other._flip)

    def __hash__(self) -> int:
        return hash((tuple(sorted(self.nodes.items())), self._flip))

    def __repr__(self) -> str:
        body = ", ".join(f"{n}={op}({', '.join(args)})" for n, (op, args) in self.nodes.items())
        return f"Genome({body}, flip={self._flip})"


def _check_structure(nodes: Nodes) -> None:
    missing = [n for n in NODE_IDS if n not in nodes]
    extra = [n for n in nodes if n not in NODE_IDS]
    if extra:
        raise GenomeError(f"unknown node id(s) {_shown(extra)} (ids are {' '.join(NODE_IDS)})")
    if missing:
        raise GenomeError(f"missing node(s) {', '.join(missing)}")
    for node, (op, args) in nodes.items():
        if op not in OPS:
            raise GenomeError(f"node {node!r}: unknown operation {_shown(op)}")
        arity = OPS[op].arity
        if len(args) != arity:
            raise GenomeError(f"node {node!r}: {op} takes {arity} operand(s), got {len(args)}")
        allowed = sources(node)
        for arg in args:
            if arg not in allowed:
                if arg == node:
                    raise GenomeError(f"node {node!r} reads itself")
                if node == ROOT and arg in INPUTS:
                    raise GenomeError(f"the root reads input {_shown(arg)}: it may read hidden nodes only")
                raise GenomeError(f"node {node!r}: unknown operand {_shown(arg)}")


def _shown(value, width: int = 80) -> str:
    """A value for an error message: printable and short."""
    text = ascii(value)
    return text if len(text) <= width else text[:width] + "..."


def _choose(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[rng.integers(len(options))]


def _random_node(rng: np.random.Generator, node: str, p_unary: float) -> tuple[str, tuple[str, ...]]:
    pool = sources(node)
    if rng.random() < p_unary:
        return _choose(rng, UNARY_NAMES), (_choose(rng, pool),)
    first, second = rng.choice(len(pool), size=2, replace=False)
    return _choose(rng, BINARY_NAMES), (pool[first], pool[second])


def _random_nodes(rng: np.random.Generator) -> dict[str, tuple[str, tuple[str, ...]]]:
    nodes = {h: _random_node(rng, h, P_HIDDEN_UNARY) for h in HIDDEN}
    nodes[ROOT] = _random_node(rng, ROOT, P_ROOT_UNARY)
    return nodes


def _new_source(rng: np.random.Generator, node: str, args: Sequence[str]) -> str:
    return _choose(rng, [s for s in sources(node) if s not in args])


def _rewire(rng: np.random.Generator, node: str, args: tuple[str, ...]) -> tuple[str, ...]:
    if len(args) == 1:
        return (_new_source(rng, node, args),)
    if rng.random() < P_SWAP:
        return args[::-1]
    position = int(rng.integers(2))
    changed = list(args)
    changed[position] = _new_source(rng, node, args)
    return tuple(changed)


def _toggle_arity(rng: np.random.Generator, node: str, args: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    if len(args) == 1:
        new = _new_source(rng, node, args)
        operands = (new, args[0]) if rng.random() < 0.5 else (args[0], new)
        return _choose(rng, BINARY_NAMES), operands
    kept = args[int(rng.integers(2))]
    return _choose(rng, UNARY_NAMES), (kept,)

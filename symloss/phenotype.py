"""Phenotypes: the numbers a loss produces on fixed inputs, and the integrity check on them.

The binary phenotype is the per-sample loss with two classes, y = [0, 1] and
yhat = [p, 1 - p], over p = linspace(1e-7, 1 - 1e-7, 1000): p is the probability given
to the wrong class. Computed in float64 on the CPU so verdicts match on every device.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

POINTS = 1000
CENTRE = range(490, 510)  # an extremum here means the loss peaks at p ~ 0.5
MAX_FLAT_STEPS = 10
MAX_SIGN_CHANGES = 2
FLAT_RANGE = 1e-4

PerSample = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a validity check: `flip` is None when the loss is invalid."""

    valid: bool
    flip: bool | None = None
    reason: str | None = None

    def __bool__(self) -> bool:
        return self.valid


def binary_p(points: int = POINTS) -> np.ndarray:
    return np.linspace(1e-7, 1 - 1e-7, points)


def binary_inputs(points: int = POINTS) -> tuple[torch.Tensor, torch.Tensor]:
    """(y, yhat), each (points, 2) float64: y = [0, 1], yhat = [p, 1 - p]."""
    p = torch.from_numpy(binary_p(points))
    yhat = torch.stack([p, 1 - p], dim=1)
    y = torch.tensor([0.0, 1.0], dtype=torch.float64).expand(points, 2)
    return y, yhat


def binary_curve(per_sample: PerSample, points: int = POINTS) -> np.ndarray:
    """The raw binary phenotype P of a per-sample loss function."""
    y, yhat = binary_inputs(points)
    with torch.no_grad():
        values = per_sample(y, yhat)
    return np.broadcast_to(values.detach().cpu().numpy(), (points,)).astype(np.float64)


def integrity(curve: np.ndarray) -> Verdict:
    """The integrity check of SEARCH_SPACE.md on a raw binary phenotype (flip off)."""
    if not np.all(np.isfinite(curve)):
        return Verdict(False, reason="the binary phenotype is not finite")
    if int(np.argmin(curve)) in CENTRE or int(np.argmax(curve)) in CENTRE:
        return Verdict(False, reason="the binary phenotype has its extremum at p ~ 0.5")
    steps = np.diff(curve)
    if np.all(steps < 0):
        return Verdict(True, flip=True)
    if np.all(steps > 0):
        return Verdict(True, flip=False)
    signs = np.sign(steps)
    flat = int(np.count_nonzero(signs == 0))
    if flat == signs.size or flat > MAX_FLAT_STEPS:
        return Verdict(False, reason=f"the binary phenotype is flat on {flat} of {signs.size} steps")
    while np.any(signs == 0):
        zeros = np.flatnonzero(signs == 0)
        signs[zeros] = signs[zeros - 1]
    changes = int(np.count_nonzero(signs != np.roll(signs, 1)))
    if changes > MAX_SIGN_CHANGES:
        return Verdict(False, reason=f"the binary phenotype changes direction {changes} times")
    return Verdict(True, flip=bool(signs[2] != -1))


def normalised(curve: np.ndarray, flip: bool = False) -> np.ndarray:
    """The phenotype (negated when flipped) min-max normalised to [0, 1]; raw if nearly flat."""
    signed = -curve if flip else np.asarray(curve, dtype=np.float64)
    low, high = float(np.min(signed)), float(np.max(signed))
    if high - low < FLAT_RANGE:
        return signed.copy()
    return (signed - low) / (high - low)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    """L2 distance between two normalised phenotypes (the novelty test of mutation)."""
    return float(np.linalg.norm(a - b))


def surface(term: PerSample, points: int = 51) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(y, yhat, f): the elementwise term on a points x points grid over [0, 1]^2 (float64, CPU)."""
    axis = torch.linspace(0, 1, points, dtype=torch.float64)
    y, yhat = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        values = term(y, yhat)
    return y.numpy(), yhat.numpy(), np.broadcast_to(values.numpy(), y.shape).astype(np.float64)

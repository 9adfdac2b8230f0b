"""Rank statistics shared by the studies and the elimination protocol."""
from __future__ import annotations

from typing import Sequence

from scipy.stats import kendalltau


def kendall_tau(first: Sequence[float], second: Sequence[float]) -> float:
    """Kendall's tau-b between paired values; NaN with fewer than two pairs."""
    if len(first) < 2:
        return float("nan")
    return float(kendalltau(first, second).statistic)

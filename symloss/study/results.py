"""Result tables: losses x columns (technique, data set), several seeds each, as mean and std."""
from __future__ import annotations

from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Summary:
    rows: list[str]
    columns: list[str]
    mean: dict[tuple[str, str], float]
    std: dict[tuple[str, str], float]
    best: dict[str, str]  # column -> the row with the highest mean


def summarise(results: Mapping[str, Mapping[str, Sequence[float]]]) -> Summary:
    """results[row][column] = the values of several seeds (std 0 for a single value)."""
    rows = list(results)
    columns = list(dict.fromkeys(c for row in results.values() for c in row))
    mean, std = {}, {}
    for row, by_column in results.items():
        for column, values in by_column.items():
            if values:
                mean[row, column] = fmean(values)
                std[row, column] = stdev(values) if len(values) > 1 else 0.0
    best = {}
    for column in columns:
        present = [row for row in rows if (row, column) in mean]
        if present:
            best[column] = max(present, key=lambda row: mean[row, column])
    return Summary(rows, columns, mean, std, best)

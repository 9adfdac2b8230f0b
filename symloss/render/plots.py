"""The paper's pictures with matplotlib (PNG or PDF by the file's suffix): binary phenotypes,
loss surfaces and their difference from cross-entropy, accuracy scatter plots by cluster."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .. import phenotype, zoo  # noqa: E402
from ..errors import ConfigError  # noqa: E402
from ..files import atomic_path  # noqa: E402
from ..loss import Loss  # noqa: E402
from ..study.correlation import Study, best_k, clusters  # noqa: E402

SUFFIXES = (".png", ".pdf")


def checked(path: str | Path) -> Path:
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(f"plots are written as {' or '.join(SUFFIXES)}, not {path.suffix or 'no suffix'}")
    return path


def save(figure, path: Path) -> Path:
    """Write the figure to `path` whole or not at all (a temporary file renamed into place)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as temporary:
            figure.savefig(temporary, dpi=150, bbox_inches="tight", format=path.suffix.lower()[1:])
    finally:
        plt.close(figure)
    return path


def text(label: object) -> str:
    """A name or formula shown as itself: a '$' would start matplotlib's mathtext."""
    return str(label).replace("$", r"\$")


def reference() -> Loss:
    return zoo.get("ce")


def binary(losses: Mapping[str, Loss], path: str | Path, with_reference: bool = True,
           title: str | None = None) -> Path:
    """Binary phenotypes (y = [0, 1], yhat = [p, 1 - p]): raw and min-max normalised, CE dashed."""
    path = checked(path)
    curves = dict(losses)
    if with_reference:
        curves.setdefault("CE", reference())
    p = phenotype.binary_p()
    palette = plt.cm.tab10 if len(curves) <= 10 else plt.cm.tab20  # a colour of its own for each curve
    figure, (raw, scaled) = plt.subplots(1, 2, figsize=(10, 4))
    for index, (name, loss) in enumerate(curves.items()):
        curve = loss.binary_curve()
        style = dict(linestyle="--" if name == "CE" and with_reference else "-", color=palette(index % palette.N))
        raw.plot(p, curve, label=text(name), **style)
        scaled.plot(p, phenotype.normalised(curve), label=text(name), **style)
    for axes, name in ((raw, "raw"), (scaled, "min-max normalised")):
        axes.set(xlabel="p (probability of the wrong class)", ylabel="loss", title=name)
    scaled.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    if title:
        figure.suptitle(text(title))
    return save(figure, path)


def _surface_axes(figure, y, yhat, values, title: str, label: str):
    axes = figure.add_subplot(projection="3d")
    axes.plot_surface(y, yhat, values, cmap="viridis", linewidth=0, antialiased=True)
    axes.set(xlabel="y", ylabel="ŷ", zlabel=label, title=text(title))
    return axes


def surface(loss: Loss, path: str | Path, title: str | None = None) -> Path:
    """The elementwise term f(y, yhat) over [0, 1]^2, not normalised."""
    path = checked(path)
    y, yhat, values = phenotype.surface(loss.term())
    figure = plt.figure(figsize=(6, 5))
    _surface_axes(figure, y, yhat, values, title or str(loss.name or loss.expr), "f(y, ŷ)")
    return save(figure, path)


def difference(loss: Loss, path: str | Path, title: str | None = None) -> Path:
    """normalised(f) - normalised(CE) over [0, 1]^2: where a loss departs from cross-entropy."""
    path = checked(path)
    y, yhat, values = phenotype.surface(loss.term())
    _, _, ce = phenotype.surface(reference().term())
    figure = plt.figure(figsize=(6, 5))
    _surface_axes(figure, y, yhat, phenotype.normalised(values) - phenotype.normalised(ce),
                  title or f"{loss.name or loss.expr} - CE", "difference")
    return save(figure, path)


def scatter(study: Study, first: str, second: str, path: str | Path, zoom: bool = False,
            cluster_count: int = 4) -> Path:
    """Accuracy under `first` against `second`, coloured by cluster (Figure 3); zoom: the best k (Figure 4)."""
    path = checked(path)
    x, y = np.asarray(study.accuracies[first]), np.asarray(study.accuracies[second])
    if zoom:
        chosen = best_k(x, y, study.top_k)
        x, y = x[chosen], y[chosen]
    labels = clusters(x, y, cluster_count)
    figure, axes = plt.subplots(figsize=(5, 5))
    for label in sorted(set(labels.tolist())):
        mask = labels == label
        axes.scatter(x[mask], y[mask], s=12, label=f"cluster {label}")
    axes.set(xlabel=text(f"{first} accuracy"), ylabel=text(f"{second} accuracy"),
             title=f"{len(x)} losses" + (f" (best {study.top_k} of both)" if zoom else ""))
    axes.legend(fontsize="small")
    return save(figure, path)


def named(losses: Sequence[Loss]) -> dict[str, Loss]:
    """Losses keyed by their names (or their formulas)."""
    return {loss.name or str(loss.expr): loss for loss in losses}

"""One self-contained HTML page for a run directory: its best losses, their phenotypes, and the
correlation study when the store holds one. Pictures are inline PNGs; nothing is fetched. Every
text from the store is HTML-escaped, and pictures come from the stored genomes."""
from __future__ import annotations

import base64
import html
import tempfile
from pathlib import Path

from ..store import Store
from ..study.correlation import Study
from . import plots, tables

STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #ccc;padding:4px 10px;text-align:left}
code{font-size:90%}img{max-width:100%}"""


def _image(render, *args) -> str:
    """An <img> with the PNG that `render(..., path)` draws, inline as a data URI."""
    with tempfile.TemporaryDirectory() as directory:
        path = render(*args, Path(directory) / "figure.png")
        encoded = base64.b64encode(path.read_bytes()).decode()
    return f'<img alt="figure" src="data:image/png;base64,{encoded}">'


def render(store: Store, top: list, baseline=None, study: Study | None = None, title: str = "symloss run") -> str:
    """The report's HTML. `top`: evaluation rows, best first; `baseline`: the CE row, if any."""
    rows = []
    for rank, evaluation in enumerate(top, 1):
        genome = store.require_genome(evaluation.key)
        rows.append([str(rank), f"{evaluation.fitness:.4f}", tables.plain(evaluation.status, "html"),
                     tables.code(genome["expression"], "html"), tables.code(genome["latex"], "html")])
    parts = [f"<h1>{html.escape(title)}</h1>", f"<p>Store: <code>{html.escape(str(store.path))}</code></p>",
             "<h2>Best losses</h2>", tables.render(["#", "fitness", "status", "loss", "LaTeX"], rows, "html")]
    if baseline is not None:
        parts.append(f"<p>Cross-entropy trained the same way: fitness {baseline.fitness:.4f} "
                     f"({html.escape(baseline.status)}).</p>")
    losses = [store.loss(e, name=f"#{rank}") for rank, e in enumerate(top[:5], 1)]
    if losses:
        parts += ["<h2>Binary phenotypes</h2>", _image(plots.binary, plots.named(losses)),
                  "<h2>The best loss: surface and difference from cross-entropy</h2>",
                  _image(plots.surface, losses[0]), _image(plots.difference, losses[0])]
    if study is not None:
        parts += [f"<h2>Correlation between techniques: Kendall's tau ({len(study.keys)} losses)</h2>",
                  tables.tau_table(study, "html")]
        if {"base", "all"} <= set(study.techniques):
            parts += [_image(plots.scatter, study, "base", "all"),
                      _image(lambda s, a, b, path: plots.scatter(s, a, b, path, zoom=True), study, "base", "all")]
        parts.append(f"<pre>{html.escape(tables.tau_table(study, 'latex'))}</pre>")
    body = "\n".join(parts)
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head><body>\n{body}\n</body></html>\n")

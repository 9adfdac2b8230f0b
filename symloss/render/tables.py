"""Tables as LaTeX (booktabs), Markdown or plain text: Kendall tau (Table 3), equations
(Table 4), results as mean +- std with the best of each column in bold (Tables 5-6)."""
from __future__ import annotations

from typing import Sequence

from ..errors import ConfigError
from ..study.correlation import Study
from ..study.results import Summary

FORMATS = ("latex", "markdown", "text")
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def escape(text: str) -> str:
    """Plain text made safe for a LaTeX table cell."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


def render(header: Sequence[str], rows: Sequence[Sequence[str]], fmt: str, align: str | None = None) -> str:
    """One table. Cells are already in the target format (LaTeX math stays math)."""
    if fmt == "latex":
        spec = align or "l" + "r" * (len(header) - 1)
        lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
        lines += [" & ".join(row) + r" \\" for row in rows]
        return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
    if fmt == "text":
        widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
        fit = lambda row: "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
        return "\n".join([fit(header), fit(["-" * w for w in widths])] + [fit(row) for row in rows]) + "\n"
    raise ConfigError(f"unknown table format {fmt!r} (one of {', '.join(FORMATS)})")


def _number(value: float, digits: int = 3) -> str:
    return "--" if value != value else f"{value:.{digits}f}"


def tau_table(study: Study, fmt: str = "latex") -> str:
    """The paper's Table 3: one row per pair of techniques, tau over all losses and over the best k."""
    header = ["Pair", "All", f"Best {study.top_k}"]
    rows = [[pair if fmt != "latex" else escape(pair), _number(t["all"]), _number(t["best"])]
            for pair, t in study.tau.items()]
    return render(header, rows, fmt)


def equation_table(entries: Sequence[tuple[str, str]], fmt: str = "latex") -> str:
    """Named losses and their equations (entries: (name, LaTeX of the elementwise term))."""
    if fmt == "text":
        return render(["Name", "Equation"], [[name, latex] for name, latex in entries], fmt)
    cell = (lambda latex: f"${latex}$")
    name = escape if fmt == "latex" else (lambda text: text)
    return render(["Name", "Equation"], [[name(n), cell(latex)] for n, latex in entries], fmt, align="ll")


def results_table(summary: Summary, fmt: str = "latex", digits: int = 3, scale: float = 100.0) -> str:
    """Mean +- std of each cell (as percentages by default), the best of each column in bold."""
    def cell(row: str, column: str) -> str:
        if (row, column) not in summary.mean:
            return "--"
        mean, std = summary.mean[row, column] * scale, summary.std[row, column] * scale
        text = f"{mean:.{digits}f} $\\pm$ {std:.{digits}f}" if fmt == "latex" else f"{mean:.{digits}f} ± {std:.{digits}f}"
        if summary.best.get(column) != row:
            return text
        return {"latex": rf"\textbf{{{text}}}", "markdown": f"**{text}**"}.get(fmt, text + " *")

    label = escape if fmt == "latex" else (lambda text: text)
    header = ["Loss"] + [label(c) for c in summary.columns]
    return render(header, [[label(row)] + [cell(row, c) for c in summary.columns] for row in summary.rows], fmt)

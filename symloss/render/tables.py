"""Tables as LaTeX (booktabs), Markdown, plain text or HTML: Kendall tau (Table 3), equations
(Table 4), results as mean +- std with the best of each column in bold (Tables 5-6)."""
from __future__ import annotations

import html
from typing import Sequence

from ..errors import ConfigError
from ..study.correlation import Study
from ..study.results import Summary
from . import is_control, terminal_safe, visible

FORMATS = ("latex", "markdown", "text")  # those of `symloss table`
RENDERED = FORMATS + ("html",)  # and the HTML report's
_LATEX_SPECIALS = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                   "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


class Plain(str):
    """An equation known only as text that symloss did not generate (a stored formula with no
    genome to rebuild it from): shown as code, escaped, never as LaTeX math."""


def escape(text: str) -> str:
    """Plain text made safe for a LaTeX table cell (control characters as visible escapes)."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in terminal_safe(text))


def _markdown(text: str) -> str:
    """Plain text for a Markdown table cell: no control characters, no column breaks."""
    return terminal_safe(text).replace("|", "\\|")


def plain(text: str, fmt: str) -> str:
    """Plain text (a name, a status) made safe for a cell of the format."""
    return {"latex": escape, "markdown": _markdown, "html": html.escape}.get(fmt, terminal_safe)(text)


def code(text: str, fmt: str) -> str:
    """Plain text shown as code: \\texttt{...} escaped in LaTeX, a code span in Markdown, <code> in HTML."""
    if fmt == "latex":
        return rf"\texttt{{{escape(text)}}}"
    if fmt == "markdown":
        return f"`` {_markdown(text)} ``" if "`" in text else f"`{_markdown(text)}`"
    if fmt == "html":
        return f"<code>{html.escape(text)}</code>"
    return terminal_safe(text)


def _clean(cell: object, fmt: str) -> str:
    """A cell with no control character left: LaTeX cells get escaped visible escapes."""
    text = str(cell)
    if all(not is_control(ch) for ch in text):
        return text
    show = (lambda ch: escape(visible(ch))) if fmt == "latex" else visible
    return "".join(show(ch) if is_control(ch) else ch for ch in text)


def render(header: Sequence[str], rows: Sequence[Sequence[str]], fmt: str, align: str | None = None) -> str:
    """One table. Cells are already in the target format (LaTeX math stays math); any control
    character left in a cell is shown as its escape, never passed on."""
    if fmt not in RENDERED:
        raise ConfigError(f"unknown table format {fmt!r} (one of {', '.join(RENDERED)})")
    header = [_clean(cell, fmt) for cell in header]
    rows = [[_clean(cell, fmt) for cell in row] for row in rows]
    if fmt == "latex":
        spec = align or "l" + "r" * (len(header) - 1)
        lines = [rf"\begin{{tabular}}{{{spec}}}", r"\toprule", " & ".join(header) + r" \\", r"\midrule"]
        lines += [" & ".join(row) + r" \\" for row in rows]
        return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"]) + "\n"
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows]) + "\n"
    if fmt == "html":
        line = lambda tag, cells: "<tr>" + "".join(f"<{tag}>{cell}</{tag}>" for cell in cells) + "</tr>"  # noqa: E731
        return "<table>" + line("th", header) + "".join(line("td", row) for row in rows) + "</table>\n"
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]  # text
    fit = lambda row: "  ".join(str(cell).ljust(w) for cell, w in zip(row, widths)).rstrip()  # noqa: E731
    return "\n".join([fit(header), fit(["-" * w for w in widths])] + [fit(row) for row in rows]) + "\n"


def captioned(tabular: str, caption: str) -> str:
    """A LaTeX tabular in a table float with its caption (plain text, escaped)."""
    return f"\\begin{{table}}[ht]\n\\centering\n\\caption{{{escape(caption)}}}\n{tabular}\\end{{table}}\n"


def _number(value: float, digits: int = 3) -> str:
    return "--" if value != value else f"{value:.{digits}f}"


def tau_table(study: Study, fmt: str = "latex") -> str:
    """The paper's Table 3: one row per pair of techniques, tau over all losses and over the best k."""
    header = ["Pair", "All", f"Best {study.top_k}"]
    rows = [[plain(pair, fmt), _number(t["all"]), _number(t["best"])] for pair, t in study.tau.items()]
    return render(header, rows, fmt)


def equation_table(entries: Sequence[tuple[str, str]], fmt: str = "latex") -> str:
    """Named losses and their equations. entries: (name, LaTeX of the elementwise term as
    symloss generates it), or (name, Plain(text)) for a formula only known as text; names are
    plain text, escaped for the format. HTML shows every equation as code."""
    def cell(equation: str) -> str:
        if isinstance(equation, Plain) or fmt == "html":
            return code(equation, fmt)
        return equation if fmt == "text" else f"${equation}$"
    return render(["Name", "Equation"], [[plain(n, fmt), cell(e)] for n, e in entries], fmt, align="ll")


def run_equations(store, evaluations, label=lambda rank, e: f"#{rank} ({e.fitness:.4f})") -> list[tuple[str, str]]:
    """equation_table entries for stored evaluations (best first): LaTeX rebuilt from each stored
    genome, never the LaTeX stored beside it (a store may come from anyone); a row with no genome
    gives its stored formula as Plain text."""
    entries = []
    for rank, evaluation in enumerate(evaluations, 1):
        if evaluation.genome is not None:
            equation = store.loss(evaluation).latex()
        else:
            row = store.require_genome(evaluation.key)
            equation = (store.rebuild(row["genome"], f"genome {evaluation.key}").latex() if row["genome"] is not None
                        else Plain(row["expression"]))
        entries.append((label(rank, evaluation), equation))
    return entries


def results_table(summary: Summary, fmt: str = "latex", digits: int = 3, scale: float = 100.0) -> str:
    """Mean +- std of each cell (as percentages by default), the best of each column in bold."""
    def cell(row: str, column: str) -> str:
        if (row, column) not in summary.mean:
            return "--"
        mean, std = summary.mean[row, column] * scale, summary.std[row, column] * scale
        text = f"{mean:.{digits}f} $\\pm$ {std:.{digits}f}" if fmt == "latex" else f"{mean:.{digits}f} ± {std:.{digits}f}"
        if summary.best.get(column) != row:
            return text
        bold = {"latex": rf"\textbf{{{text}}}", "markdown": f"**{text}**", "html": f"<b>{text}</b>"}
        return bold.get(fmt, text + " *")

    header = ["Loss"] + [plain(c, fmt) for c in summary.columns]
    return render(header, [[plain(row, fmt)] + [cell(row, c) for c in summary.columns] for row in summary.rows], fmt)

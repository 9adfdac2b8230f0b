"""Rendering: LaTeX, Markdown and text tables; matplotlib figures; the HTML run report."""

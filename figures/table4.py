"""Table 4: the equations of the finalists (booktabs LaTeX in a captioned table), each with its
fitness: a campaign's elimination finalists, or the top of a bare run's search.

The paper's own Table 4 losses are not reproduced: their equations are not available."""
from common import finalist_losses, options, write
from symloss.render import tables

args = options(__doc__, "table4.tex")
finalists = finalist_losses(args.run_dir)
entries = [(f"{f.label} ({f.fitness:.4f})", f.loss.latex()) for f in finalists.members]
caption = f"Equations of the {finalists.note} (in brackets: fitness)"
write(tables.captioned(tables.equation_table(entries, "latex"), caption), args.out)

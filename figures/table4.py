"""Table 4: the equations of a run's best losses (booktabs LaTeX).

The paper's own Table 4 losses are not reproduced: their equations are not available."""
from common import evolution_store, options, write
from symloss.render import tables
from symloss.search import runs

args = options(__doc__, "table4.tex")
store, run_id = evolution_store(args.run_dir)
with store:
    entries = tables.run_equations(store, runs.top(store, run_id, 5), label=lambda rank, e: f"L{rank} ({e.fitness:.4f})")
write(tables.equation_table(entries, "latex"), args.out)

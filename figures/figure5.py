"""Figure 5: binary phenotypes (raw and normalised) of a run's best losses, CE for reference."""
from common import evolution_store, options, write
from symloss import Genome, Loss
from symloss.render import plots
from symloss.search import runs

args = options(__doc__, "figure5.png")
store, run_id = evolution_store(args.run_dir)
with store:
    losses = {f"L{rank}": Loss.from_genome(Genome.from_dict(e.genome)) for rank, e in enumerate(runs.top(store, run_id, 3), 1)}
write(plots.binary(losses, args.out), args.out)

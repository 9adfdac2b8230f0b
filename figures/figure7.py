"""Figure 7: where a run's best loss departs from CE: normalised(f) - normalised(CE)."""
from common import evolution_store, options, write
from symloss import Genome, Loss
from symloss.render import plots
from symloss.search import runs

args = options(__doc__, "figure7.png")
store, run_id = evolution_store(args.run_dir)
with store:
    best = runs.top(store, run_id, 1)[0]
write(plots.difference(Loss.from_genome(Genome.from_dict(best.genome), name="L1"), args.out), args.out)

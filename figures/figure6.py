"""Figure 6: the surface f(y, yhat) of a run's best loss over [0, 1]^2."""
from common import evolution_store, options, write
from symloss import Genome, Loss
from symloss.render import plots
from symloss.search import runs

args = options(__doc__, "figure6.png")
store, run_id = evolution_store(args.run_dir)
with store:
    best = runs.top(store, run_id, 1)[0]
write(plots.surface(Loss.from_genome(Genome.from_dict(best.genome), name="L1"), args.out), args.out)

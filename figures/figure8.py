"""Figure 8: the best loss of each run (e.g. one evolution per augmentation technique), their
binary phenotypes side by side with CE.

    python figures/figure8.py --run-dir runs/base --run-dir runs/cutout ... --out figure8.png
"""
import argparse

from common import evolution_store, write
from symloss import Genome, Loss
from symloss.render import plots
from symloss.search import runs

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--run-dir", action="append", default=None, help="a run directory (repeat for several)")
parser.add_argument("--out", default="figures/out/figure8.png")
args = parser.parse_args()

losses = {}
for run_dir in args.run_dir or [None]:
    store, run_id = evolution_store(run_dir)
    with store:
        best = runs.top(store, run_id, 1)[0]
        technique = store.run(runs.EVOLVE_RUN)["config"]["technique"]
    losses[f"best under {technique}"] = Loss.from_genome(Genome.from_dict(best.genome))
write(plots.binary(losses, args.out), args.out)

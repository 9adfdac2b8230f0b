"""Tables 5-6: final results as mean +- std over seeds, the best of each column in bold.

--results FILE reads {loss: {column: [accuracies of several seeds]}}. Without it, a small
final evaluation on the embedded data: CE, CE with label smoothing and a run's best two
losses, under base and mixup, two seeds each."""
import argparse
import json
from pathlib import Path

from common import SMALL_STEPS, evolution_store, write
from symloss import Genome, Loss, train, zoo
from symloss.render import tables
from symloss.search import runs
from symloss.study import summarise

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--results", default=None, help="a JSON file of results")
parser.add_argument("--run-dir", default=None, help="the run whose best losses to evaluate")
parser.add_argument("--out", default="figures/out/tables5_6.tex")
args = parser.parse_args()

if args.results:
    results = json.loads(Path(args.results).read_text())
else:
    store, run_id = evolution_store(args.run_dir)
    with store:
        losses = {"CE": zoo.get("ce"), "CE+LS": zoo.get("ce_ls")}
        losses.update({f"L{rank}": Loss.from_genome(Genome.from_dict(e.genome))
                       for rank, e in enumerate(runs.top(store, run_id, 2), 1)})
    results = {name: {technique: [train.evaluate(loss, "demo", technique, seed, steps=SMALL_STEPS).fitness
                                  for seed in (0, 1)] for technique in ("base", "mixup")}
               for name, loss in losses.items()}
write(tables.results_table(summarise(results), "latex"), args.out)

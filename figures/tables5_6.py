"""Tables 5-6: final results as mean +- std over seeds, the best of each column in bold.

The results, the first of: --results FILE ({loss: {column: [accuracies of several seeds]}});
the final evaluation of a campaign (--run-dir holding an `evaluate` run); else a small final
evaluation on the embedded data of CE, CE with label smoothing and the finalists of --run-dir
(or of a small run), under base and mixup, two seeds each."""
import argparse
import json
from pathlib import Path

from common import SMALL_STEPS, finalist_losses, read_only, write
from symloss import campaign, train, zoo
from symloss.render import tables
from symloss.study import summarise

SMALL_TECHNIQUES, SMALL_SEEDS = ("base", "mixup"), (0, 1)
BOLD = "mean and standard deviation of the accuracy (%) over seeds, the best of each column in bold"


def campaign_results(run_dir: str) -> dict | None:
    """A campaign's final evaluation, or None when the directory holds none."""
    with read_only(run_dir) as store:
        return campaign.final_results(store) if store.run(campaign.EVALUATE_RUN) is not None else None


def small_evaluation(run_dir: str | None) -> tuple[dict, str]:
    """Results of a few short trainings (every loss of a technique and seed trained in one pack), and their caption."""
    finalists = finalist_losses(run_dir)
    losses = {"CE": zoo.get("ce"), "CE+LS": zoo.get("ce_ls"), **finalists.losses()}
    results = {name: {technique: [] for technique in SMALL_TECHNIQUES} for name in losses}
    for technique in SMALL_TECHNIQUES:
        for seed in SMALL_SEEDS:
            trained = train.evaluate_pack(list(losses.values()), "demo", technique, seed, steps=SMALL_STEPS)
            for name, evaluation in zip(losses, trained):
                results[name][technique].append(evaluation.fitness)
    return results, (f"A small final evaluation on the embedded data ({SMALL_STEPS} steps) of CE, CE with label "
                     f"smoothing and the {finalists.note}: {BOLD}")


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--results", default=None, help="a JSON file of results")
parser.add_argument("--run-dir", default=None, help="a campaign, or the run whose finalists to evaluate")
parser.add_argument("--out", default="figures/out/tables5_6.tex")
args = parser.parse_args()

if args.results:
    results, caption = json.loads(Path(args.results).read_text()), f"Results of {args.results}: {BOLD}"
elif args.run_dir and (final := campaign_results(args.run_dir)) is not None:
    results, caption = final, f"Final evaluation of the elimination finalists: {BOLD}"
else:
    results, caption = small_evaluation(args.run_dir)
write(tables.captioned(tables.results_table(summarise(results), "latex"), caption), args.out)

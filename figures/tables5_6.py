"""Tables 5 and 6: final results as mean +- std over seeds, the best of each column in bold;
Table 5 the losses trained from scratch, Table 6 fine-tuned (the columns of the fine-tuning data
sets: Cars, Flowers-102, Caltech-101). Written as table5.tex and table6.tex under --out, each
when it has results.

The results, the first of: --results FILE ({loss: {column "<data set> <technique>": [accuracies
of several seeds]}}); the final evaluation of a campaign (--run-dir holding an `evaluate` run);
else a small final evaluation on the embedded data (Table 5 only) of CE, CE with label smoothing
and the finalists of --run-dir (or of a small run), under base and mixup, two seeds each."""
import argparse
import json
from pathlib import Path

from common import SMALL_STEPS, finalist_losses, read_only, write
from symloss import campaign, train, zoo
from symloss.render import tables
from symloss.study import summarise

SMALL_TECHNIQUES, SMALL_SEEDS = ("base", "mixup"), (0, 1)
BOLD = "mean and standard deviation of the accuracy (%) over seeds, the best of each column in bold"
KINDS = {5: "trained from scratch", 6: "fine-tuned"}


def campaign_results(run_dir: str) -> dict | None:
    """A campaign's final evaluation, or None when the directory holds none."""
    with read_only(run_dir) as store:
        return campaign.final_results(store) if store.run(campaign.EVALUATE_RUN) is not None else None


def small_evaluation(run_dir: str | None) -> tuple[dict, str]:
    """Results of a few short trainings (every loss of a technique and seed trained in one pack), and their caption."""
    finalists = finalist_losses(run_dir)
    losses = {"CE": zoo.get("ce"), "CE+LS": zoo.get("ce_ls"), **finalists.losses()}
    results = {name: {f"digits {technique}": [] for technique in SMALL_TECHNIQUES} for name in losses}
    for technique in SMALL_TECHNIQUES:
        for seed in SMALL_SEEDS:
            trained = train.evaluate_pack(list(losses.values()), "demo", technique, seed, steps=SMALL_STEPS)
            for name, evaluation in zip(losses, trained):
                results[name][f"digits {technique}"].append(evaluation.fitness)
    return results, (f"A small final evaluation on the embedded data ({SMALL_STEPS} steps) of CE, CE with label "
                     f"smoothing and the {finalists.note}")


parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--results", default=None, help="a JSON file of results")
parser.add_argument("--run-dir", default=None, help="a campaign, or the run whose finalists to evaluate")
parser.add_argument("--out", default="figures/out", help="the directory of table5.tex and table6.tex")
args = parser.parse_args()

if args.results:
    results, caption = json.loads(Path(args.results).read_text()), f"Results of {args.results}"
elif args.run_dir and (final := campaign_results(args.run_dir)) is not None:
    results, caption = final, "Final evaluation of the elimination finalists"
else:
    results, caption = small_evaluation(args.run_dir)
for number, found in campaign.split_tables(results).items():
    write(tables.captioned(tables.results_table(summarise(found), "latex"), f"{caption}, {KINDS[number]}: {BOLD}"),
          str(Path(args.out) / f"table{number}.tex"))

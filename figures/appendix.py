"""The appendix figures: for each technique in the order base, cutout, mixup, randaug, all, one
figure of the binary phenotypes (raw and min-max normalised, CE for reference) of its 3
finalists, then the surface f(y, yhat) of each finalist, best first.

Numbering: PROTOCOL.md describes 4 figures per technique (1 phenotype figure + 3 surfaces), 20 in
all, yet numbers them "Figures 9-27", which is 19. The description is followed: figure9 ..
figure28, each technique at a fixed place (base 9-12, cutout 13-16, mixup 17-20, randaug 21-24,
all 25-28), so a number always names the same figure. Nothing here assumes which of the 20 the
paper's count leaves out. A directory holding fewer techniques or finalists (a bare run: its
technique, the top of its search) writes only the figures it has, at their places.

    python figures/appendix.py --run-dir CAMPAIGN_DIR --out figures/out/appendix --format pdf
"""
import argparse
from pathlib import Path

from common import Finalists, finalist_losses
from symloss.augment import TECHNIQUES
from symloss.render import plots
from symloss.search.elimination import FINALISTS

FIRST = 9  # the first appendix figure
PER_TECHNIQUE = 1 + FINALISTS  # a phenotype figure, then one surface per finalist


def number(technique: str, slot: int) -> int:
    """The figure number of a technique's slot (0: its phenotypes, 1..3: its finalists' surfaces)."""
    return FIRST + TECHNIQUES.index(technique) * PER_TECHNIQUE + slot


def draw(finalists: Finalists, out: Path, suffix: str) -> list[Path]:
    """Every appendix figure the finalists give, as out/figure<N><suffix>."""
    written = []
    for technique in finalists.techniques:
        path = out / f"figure{number(technique, 0)}{suffix}"
        title = f"Binary phenotypes under {technique}: {finalists.note}"
        written.append(plots.binary(finalists.losses(technique), path, title=title))
        for slot, finalist in enumerate(finalists.of(technique), 1):
            path = out / f"figure{number(technique, slot)}{suffix}"
            written.append(plots.surface(finalist.loss, path, title=f"{finalist.label} ({finalists.note})"))
    return written


parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--run-dir", default=None, help="a campaign or run directory (default: make a small run)")
parser.add_argument("--out", default="figures/out/appendix", help="the directory to write the figures in")
parser.add_argument("--format", choices=[s[1:] for s in plots.SUFFIXES], default="png")
args = parser.parse_args()

for path in draw(finalist_losses(args.run_dir), Path(args.out), f".{args.format}"):
    print(path)

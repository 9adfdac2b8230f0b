"""Figure 8: where the best loss (Figure 7's) departs from CE: normalised(f) - normalised(CE)
over [0, 1]^2, each surface min-max normalised over the grid."""
from common import finalist_losses, options, write
from symloss.render import plots

args = options(__doc__, "figure8.png")
finalists = finalist_losses(args.run_dir)
best = finalists.best
title = f"normalised {best.label} - normalised CE ({best.label}: the best of the {finalists.note})"
write(plots.difference(best.loss, args.out, title=title), args.out)

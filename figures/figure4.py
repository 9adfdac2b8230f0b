"""Figure 4: Figure 3 zoomed on the losses in the best k of both base and all."""
from common import options, study, write
from symloss.render import plots

args = options(__doc__, "figure4.png")
write(plots.scatter(study(args.run_dir), "base", "all", args.out, zoom=True), args.out)

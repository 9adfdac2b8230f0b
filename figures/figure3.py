"""Figure 3: accuracy under base against all, one point per loss, coloured by cluster."""
from common import options, study, write
from symloss.render import plots

args = options(__doc__, "figure3.png")
write(plots.scatter(study(args.run_dir), "base", "all", args.out), args.out)

"""Figure 3: accuracy under base against all, one point per loss, coloured by cluster."""
from common import options, study_store, write
from symloss.render import plots
from symloss.study import stored_study

args = options(__doc__, "figure3.png")
with study_store(args.run_dir) as store:
    study = stored_study(store, top_k=50 if args.run_dir else 4)
write(plots.scatter(study, "base", "all", args.out), args.out)

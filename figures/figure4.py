"""Figure 4: Figure 3 zoomed on the losses in the best k of both base and all."""
from common import options, study_store, write
from symloss.render import plots
from symloss.study import stored_study

args = options(__doc__, "figure4.png")
with study_store(args.run_dir) as store:
    study = stored_study(store, top_k=50 if args.run_dir else 4)
write(plots.scatter(study, "base", "all", args.out, zoom=True), args.out)

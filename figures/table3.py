"""Table 3: Kendall's tau between augmentation techniques, over all losses and the best k."""
from common import options, study_store, write
from symloss.render import tables
from symloss.study import stored_study

args = options(__doc__, "table3.tex")
with study_store(args.run_dir) as store:
    study = stored_study(store, top_k=50 if args.run_dir else 4)
write(tables.tau_table(study, "latex"), args.out)

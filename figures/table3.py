"""Table 3: Kendall's tau between augmentation techniques, over all losses and the best k."""
from common import options, study, write
from symloss.render import tables

args = options(__doc__, "table3.tex")
found = study(args.run_dir)
caption = (f"Kendall's tau between augmentation techniques over all {len(found.keys)} losses "
           f"and over the best {found.top_k} of each pair")
write(tables.captioned(tables.tau_table(found, "latex"), caption), args.out)

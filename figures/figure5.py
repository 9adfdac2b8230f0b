"""Figure 5: binary phenotypes (raw and min-max normalised) of the finalists, CE for reference."""
from common import finalist_losses, options, write
from symloss.render import plots

args = options(__doc__, "figure5.png")
finalists = finalist_losses(args.run_dir)
write(plots.binary(finalists.losses(), args.out, title=f"Binary phenotypes: {finalists.note}"), args.out)

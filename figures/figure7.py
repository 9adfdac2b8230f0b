"""Figure 7: the surface f(y, yhat) over [0, 1]^2 of the best loss: a campaign's best finalist
(the highest elimination mean), or a bare run's best searched loss."""
from common import finalist_losses, options, write
from symloss.render import plots

args = options(__doc__, "figure7.png")
finalists = finalist_losses(args.run_dir)
best = finalists.best
write(plots.surface(best.loss, args.out, title=f"{best.label}, the best of the {finalists.note}"), args.out)

"""Figure 6: cross-entropy's surface f(y, yhat) = -y log(yhat) over [0, 1]^2 (--run-dir is not used)."""
from common import options, write
from symloss import zoo
from symloss.render import plots

args = options(__doc__, "figure6.png")
write(plots.surface(zoo.get("ce"), args.out, title="CE"), args.out)

"""The augmentation correlation study with its trainings spread over a Ray cluster.

    python examples/correlation_on_ray.py [RAY_ADDRESS]

Without an address it starts a local two-CPU cluster. Each training is one Ray task (one
lost with its worker is retried); only this driver writes the study's store, so running the
script again resumes it instead of training again. The CLI does the same with
`symloss correlate --executor ray [--ray-address A]`.
"""
import sys

import ray

from symloss.executors import ExecutorSpec
from symloss.store import Store
from symloss.study import run_study

TECHNIQUES = ["base", "cutout", "mixup"]
LOSSES, STEPS, SEED = 6, 40, 0

ray.init(address=sys.argv[1] if len(sys.argv) > 1 else None, num_cpus=None if len(sys.argv) > 1 else 2,
         include_dashboard=False, log_to_driver=False)
with Store("runs/correlation-on-ray", create=True) as store:
    study = run_study(store, LOSSES, TECHNIQUES, "demo", SEED, top_k=3, executor=ExecutorSpec("ray", concurrency=4),
                      overrides={"steps": STEPS})
ray.shutdown()

for pair, tau in study.tau.items():
    print(f"{pair}: tau {tau['all']:.3f} over {LOSSES} losses")

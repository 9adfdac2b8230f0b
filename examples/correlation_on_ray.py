"""The augmentation correlation study with its trainings spread over a Ray cluster.

    python examples/correlation_on_ray.py [RAY_ADDRESS]

Without an address it starts a local two-CPU cluster. Each training is one Ray task; the
driver gathers the accuracies and computes Kendall's tau between the techniques. (The
symloss CLI's own executors keep a resumable store; this example shows the bare pattern.)
"""
import sys

import ray

from symloss.search import plan
from symloss.search.jobs import Job, train_job
from symloss.study import kendall

TECHNIQUES = ["base", "cutout", "mixup"]
LOSSES, STEPS, SEED = 6, 40, 0

ray.init(address=sys.argv[1] if len(sys.argv) > 1 else None, num_cpus=None if len(sys.argv) > 1 else 2,
         include_dashboard=False, log_to_driver=False)
train_remote = ray.remote(num_cpus=1, max_retries=2)(train_job)  # a task lost with its worker is retried

candidates = plan(SEED, LOSSES)
jobs = {(technique, c.key): Job(c.genome.to_dict(), technique, "demo", SEED, overrides=(("steps", STEPS),))
        for technique in TECHNIQUES for c in candidates}
futures = {key: train_remote.remote(job) for key, job in jobs.items()}
fitness = {key: evaluation.fitness for key, evaluation in zip(futures, ray.get(list(futures.values())))}
ray.shutdown()

accuracies = {t: [fitness[t, c.key] for c in candidates] for t in TECHNIQUES}
for pair, tau in kendall(accuracies, TECHNIQUES, k=3).items():
    print(f"{pair}: tau {tau['all']:.3f} over {LOSSES} losses")

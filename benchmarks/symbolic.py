"""Benchmark of the symbolic side: random genomes and Loss.from_genome.

Measures, for N distinct random genomes drawn with numpy.random.default_rng(seed):

- the throughput of `symloss.Genome.random(rng)` (valid genomes per second; each call
  redraws internally until the genome passes the validity check);
- the wall time of `symloss.Loss.from_genome(genome)` per genome (genome -> SymPy, then
  simplification of expressions up to `symloss.symbolic.SIMPLIFY_MAX_OPS` operations):
  median, p99, max and mean in ms, and the share of genomes too large to simplify
  (`loss.simplified is False`).

SymPy's caches are not cleared. symloss memoises `symbolic.simplify` per raw expression, so
distinct genomes with equal raw expressions hit that cache: the count is reported.

Prints one JSON object. Run from the repository root:

    python benchmarks/symbolic.py [--genomes 300] [--seed 0]
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import sympy

import symloss
from symloss import symbolic
from common import machine



def distinct_random_genomes(n: int, seed: int) -> tuple[list[symloss.Genome], float, int]:
    """n distinct random valid genomes, the seconds spent in Genome.random, and the calls made."""
    rng = np.random.default_rng(seed)
    genomes, seen, calls, seconds = [], set(), 0, 0.0
    while len(genomes) < n:
        start = time.perf_counter()
        genome = symloss.Genome.random(rng)
        seconds += time.perf_counter() - start
        calls += 1
        if genome not in seen:
            seen.add(genome)
            genomes.append(genome)
    return genomes, seconds, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genomes", type=int, default=300, help="distinct random genomes (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed (default 0)")
    args = parser.parse_args()

    genomes, random_s, calls = distinct_random_genomes(args.genomes, args.seed)

    cache_before = symbolic.simplify.cache_info()
    times_ms, not_simplified, errors, keys = [], 0, 0, set()
    for genome in genomes:
        start = time.perf_counter()
        try:
            loss = symloss.Loss.from_genome(genome)
        except symloss.SymlossError:
            errors += 1
            continue
        finally:
            times_ms.append((time.perf_counter() - start) * 1e3)
        not_simplified += loss.simplified is False
        keys.add(loss.key)
    cache_after = symbolic.simplify.cache_info()

    times = np.array(times_ms)
    built = len(genomes) - errors
    print(json.dumps({
        "benchmark": "symbolic",
        "genomes": len(genomes),
        "seed": args.seed,
        "random": {"calls": calls, "duplicates_redrawn": calls - len(genomes),
                   "seconds": round(random_s, 4),
                   "valid_genomes_per_s": round(calls / random_s, 1)},
        "from_genome_ms": {"median": round(float(np.median(times)), 3),
                           "p99": round(float(np.percentile(times, 99)), 3),
                           "max": round(float(times.max()), 3),
                           "mean": round(float(times.mean()), 3)},
        "simplify_max_ops": symbolic.SIMPLIFY_MAX_OPS,
        "too_large_to_simplify": {"count": not_simplified, "share": round(not_simplified / max(built, 1), 4)},
        "errors": errors,
        "distinct_loss_keys": len(keys),
        "simplify_cache_hits": cache_after.hits - cache_before.hits,
        "machine": machine() | {"sympy": sympy.__version__},
    }, indent=2))


if __name__ == "__main__":
    main()

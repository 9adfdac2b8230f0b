"""A job carries its loss's simplified expression: workers read it back and never simplify again."""
import pickle

import pytest
import sympy as sp

from symloss import ExpressionError, Genome, symbolic
from symloss.search.jobs import Candidate, Job


def test_a_job_rebuilds_its_loss_without_simplifying(monkeypatch):
    candidates = [Candidate(Genome.random(seed)) for seed in range(20)]
    jobs = [pickle.loads(pickle.dumps(Job.of(c, "base", "demo", 0))) for c in candidates]

    def refuse(*args, **kwargs):
        raise AssertionError("a worker simplified again")

    symbolic.simplify.cache_clear()
    monkeypatch.setattr(sp, "simplify", refuse)
    for candidate, job in zip(candidates, jobs):
        loss = job.loss()
        assert loss.expr == candidate.loss.expr and loss.key == candidate.key


def test_a_job_without_an_expression_still_builds_its_loss_from_the_genome():
    candidate = Candidate(Genome.random(3))
    job = Job(candidate.genome.to_dict(), "base", "demo", 0)
    assert job.loss().key == candidate.key


def test_a_tampered_expression_falls_back_to_the_genome():
    candidate = Candidate(Genome.random(4))
    job = Job.of(candidate, "base", "demo", 0)
    tampered = Job(job.genome, job.technique, job.preset, job.seed, expression="__import__('os')")
    assert tampered.loss().key == candidate.key
    with pytest.raises(ExpressionError):
        Job(None, "base", "demo", 0, expression="__import__('os')").loss()

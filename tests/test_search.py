"""Search: the run store, random search, regularized evolution and elimination, with a stand-in fitness."""
import math
import sqlite3
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from scipy.stats import kendalltau

from standin import Counting, standin_job
from symloss import ConfigError, Genome, executors, phenotype
from symloss.search import (Candidate, EvolutionConfig, Member, SearchContext, SearchError, evolution, plan,
                            regularized_evolution, runs, train_candidates)
from symloss.search.elimination import ELIMINATION_PRESETS, Stage, eliminate, stage_tau
from symloss.search.evolution import age_and_replace, tournament
from symloss.search.jobs import Job
from symloss.store import Store, StoreError
from symloss.study import run_study
from symloss.train import Evaluation


def make_job(candidate, technique):
    return Job(candidate.genome.to_dict(), technique, "demo", 0)


def context(store, run_id, fn=standin_job, make=make_job, executor=None):
    return SearchContext(store, run_id, make, executor or executors.InProcess(), fn)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "run", create=True) as opened:
        yield opened


# ---- the store -----------------------------------------------------------------------
def test_store_refuses_what_is_not_a_run_directory(tmp_path):
    with pytest.raises(StoreError, match="not a symloss run directory"):
        Store(tmp_path)
    (tmp_path / "store.sqlite").write_text("not a database")
    with pytest.raises(StoreError):
        Store(tmp_path)


def test_store_refuses_another_schema_version(tmp_path):
    Store(tmp_path / "run", create=True).close()
    connection = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    connection.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    connection.commit()
    connection.close()
    with pytest.raises(StoreError, match="schema 99"):
        Store(tmp_path / "run")


def test_another_process_reads_while_a_run_writes(store):
    run_id = store.create_run("random", "r", {}, 0)
    reader = Store(store.directory)
    with store.transaction():
        store.add_evaluation(run_id=run_id, stage="s", setting="x", technique="base", preset="demo", seed=0,
                             key="k", genome=None, iteration=0, fitness=0.5, status="ok", reason=None,
                             steps=1, wall_s=0.0)
        assert reader.evaluations() == []  # not committed yet: invisible, and not blocking the reader
    assert [e.key for e in reader.evaluations()] == ["k"]
    assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


# ---- random search ------------------------------------------------------------------------
def test_plan_is_deterministic_with_distinct_keys():
    first = plan(3, 12)
    assert [c.key for c in first] == [c.key for c in plan(3, 12)]
    assert len({c.key for c in first}) == 12
    assert [c.key for c in plan(4, 12)] != [c.key for c in first]


def test_random_search_trains_each_loss_once_per_technique(store):
    run_id = store.create_run("random", "r", {}, 0)
    candidates = plan(1, 6)
    calls = Counting()
    train_candidates(context(store, run_id, calls), candidates, ["base", "mixup"])
    assert calls.calls == 12
    rows = store.evaluations(run_id, "random")
    assert Counter((e.technique, e.key) for e in rows) == Counter((t, c.key) for t in ["base", "mixup"] for c in candidates)
    train_candidates(context(store, run_id, calls), candidates, ["base", "mixup"])
    assert calls.calls == 12  # resumed: nothing left to do

    other = store.create_run("random", "r2", {}, 0)
    train_candidates(context(store, other, calls), candidates, ["base"])
    assert calls.calls == 12  # same losses, same setting: reused, not retrained
    reused = store.evaluations(other, "random")
    assert all(e.reused_from is not None for e in reused) and len(reused) == 6


def test_failures_are_kept_with_their_reason(store):
    run_id = store.create_run("random", "r", {}, 0)
    train_candidates(context(store, run_id), plan(2, 30), ["base"])
    failed = [e for e in store.evaluations(run_id) if e.status != "ok"]
    assert failed and all(e.fitness == 0 and e.reason for e in failed)


def test_a_crashing_evaluation_scores_zero_and_the_search_goes_on(store):
    def crash_on_first(job, seen=[]):
        seen.append(job)
        if len(seen) == 1:
            raise RuntimeError("worker died")
        return standin_job(job)

    run_id = store.create_run("random", "r", {}, 0)
    train_candidates(context(store, run_id, crash_on_first), plan(0, 3), ["base"])
    rows = store.evaluations(run_id)
    assert len(rows) == 3 and rows[0].status == "failed" and "worker died" in rows[0].reason


# ---- regularized evolution ------------------------------------------------------------------
CONFIG = EvolutionConfig(initial=12, population=5, tournament=3, iterations=15)


def run_evolution(store, name="evolve", config=CONFIG, fn=standin_job, seed=0, executor=None):
    run = store.run(name)
    run_id = run["id"] if run else store.create_run("evolve", name, {}, seed)
    return run_id, regularized_evolution(context(store, run_id, fn, executor=executor), config, "base", seed)


def children_of(store, run_id):
    """{iteration: its children's evaluations, in order}."""
    children = {}
    for evaluation in store.evaluations(run_id, "evolve"):
        children.setdefault(evaluation.iteration, []).append(evaluation)
    return children


def test_history_is_complete(store):
    run_id, population = run_evolution(store)
    assert len(store.evaluations(run_id, "random")) == CONFIG.initial
    steps = store.iterations(run_id)
    assert [s["iteration"] for s in steps] == list(range(CONFIG.iterations))
    children = children_of(store, run_id)
    assert sorted(children) == list(range(CONFIG.iterations))
    for step in steps:  # every child is kept; only the last may have succeeded
        bred = children[step["iteration"]]
        assert bred[-1].id == step["evaluation_id"] and len(bred) <= CONFIG.max_children
        assert all(e.status in evolution.FAILED for e in bred[:-1])
    assert any(len(bred) > 1 for bred in children.values())  # the stand-in made some child fail
    assert len(population) == CONFIG.population


def test_initial_population_is_the_best_of_the_random_phase(store):
    run_id, _ = run_evolution(store)
    random_rows = sorted(store.evaluations(run_id, "random"), key=lambda e: -e.fitness)
    first = store.iterations(run_id)[0]
    before = {store.evaluation(e).key for e, _ in first["population"]} - {store.evaluation(first["evaluation_id"]).key}
    assert before <= {e.key for e in random_rows[:CONFIG.population]}


def test_ages_and_replacement_of_the_worst_among_the_oldest(store):
    run_id, _ = run_evolution(store)
    steps = store.iterations(run_id)
    fitness = {e.id: e.fitness for e in store.evaluations(run_id)}
    status = {e.id: e.status for e in store.evaluations(run_id)}
    for before, after in zip(steps, steps[1:]):
        previous = [(e, a + 1) for e, a in before["population"]]
        oldest = max(a for _, a in previous)
        victim = min((i for i, (_, a) in enumerate(previous) if a == oldest), key=lambda i: fitness[previous[i][0]])
        expected = previous[:victim] + [(after["evaluation_id"], 0)] + previous[victim + 1:]
        if status[after["evaluation_id"]] in evolution.FAILED:  # every child failed: no one replaced
            expected = previous
        assert [tuple(p) for p in after["population"]] == expected


def test_population_never_holds_a_key_twice_and_children_are_novel(store):
    run_id, _ = run_evolution(store)
    steps = store.iterations(run_id)
    for before, after in zip(steps, steps[1:]):
        keys = [store.evaluation(e).key for e, _ in after["population"]]
        assert len(keys) == len(set(keys))
        child = store.evaluation(after["evaluation_id"])
        assert child.key not in {store.evaluation(e).key for e, _ in before["population"]}
        child_phenotype = store.genome(child.key)["phenotype"]
        for member, _ in before["population"]:
            assert phenotype.distance(child_phenotype, store.genome(store.evaluation(member).key)["phenotype"]) > 0.01


def test_parent_is_the_fittest_of_a_tournament_drawn_with_replacement(store):
    run_id, _ = run_evolution(store)
    steps = store.iterations(run_id)
    for before, after in zip(steps, steps[1:]):
        rng = np.random.default_rng()
        rng.bit_generator.state = after["rng_state"]
        drawn = rng.integers(CONFIG.population, size=CONFIG.tournament)
        members = [store.evaluation(e) for e, _ in before["population"]]
        best = max(drawn, key=lambda i: members[i].fitness)
        if after["attempts"] <= CONFIG.max_attempts:  # the first tournament's parent bred the child
            assert after["parent_evaluation"] == members[best].id


def test_tournament_draws_with_replacement():
    class M:
        def __init__(self, f):
            self.fitness = f

    population = [M(0.1), M(0.9), M(0.5)]
    winners = Counter(tournament(population, 2, np.random.default_rng(s)).fitness for s in range(3000))
    # with replacement, the weakest wins only when drawn twice: (1/3)^2 of the time
    assert abs(winners[0.1] / 3000 - 1 / 9) < 0.02


def test_age_and_replace_ages_everyone_and_replaces_the_worst_oldest():
    class M:
        def __init__(self, f, a):
            self.fitness, self.age = f, a

    population = [M(0.9, 3), M(0.2, 1), M(0.5, 3), M(0.4, 2)]
    child = M(0.7, 0)
    after = age_and_replace(population, child)
    assert [m.age for m in after] == [4, 2, 0, 3] and after[2] is child
    assert [(m.fitness, m.age) for m in age_and_replace(after, None)] == [(0.9, 5), (0.2, 3), (0.7, 1), (0.4, 4)]


def history(store, run_id):
    """Each iteration's children (key, status), parent and population (key, age), by key: ids differ per store."""
    key = lambda evaluation_id: store.evaluation(evaluation_id).key  # noqa: E731
    children = children_of(store, run_id)
    return [(s["iteration"], [(e.key, e.status) for e in children[s["iteration"]]], key(s["parent_evaluation"]),
             [(key(e), a) for e, a in s["population"]]) for s in store.iterations(run_id)]


def test_evolution_is_deterministic_and_resumes_exactly(tmp_path):
    with Store(tmp_path / "a", create=True) as straight:
        run_a, _ = run_evolution(straight)
        history_a = history(straight, run_a)
        first_children = {bred[0].id for bred in children_of(straight, run_a).values()}
        trainings = [e for e in straight.evaluations(run_a) if e.reused_from is None]  # in the order they ran
    bred_again = [i for i, e in enumerate(trainings) if e.stage == "evolve" and e.id not in first_children]
    assert bred_again  # the stand-in fails some children
    # kill before the first child bred again, right after it, and at a few other moments
    kills = sorted({5, 14, bred_again[0], bred_again[0] + 1, len(trainings) - 2})
    with Store(tmp_path / "b", create=True) as broken:
        calls, left_unfinished = 0, False
        for limit in [b - a for a, b in zip([0] + kills, kills)] + [None]:
            interrupted = Counting(limit)
            try:
                run_evolution(broken, fn=interrupted)
            except KeyboardInterrupt:
                finished = {s["iteration"] for s in broken.iterations(broken.run("evolve")["id"])}
                left_unfinished |= any(e.iteration not in finished for e in broken.evaluations(stage="evolve"))
            calls += interrupted.calls
        assert left_unfinished  # a run was killed between two children of one iteration
        assert calls == len(trainings)  # every training exactly once
        assert history(broken, broken.run("evolve")["id"]) == history_a


def failing(fails):
    """The stand-in, but a loss whose key passes `fails` diverges."""
    def fn(job):
        if fails(Candidate(Genome.from_dict(job.genome)).key):
            return Evaluation(0.0, "diverged", "chosen to fail", 1, 0.0)
        return standin_job(job)
    return fn


SAFE = {c.key for c in plan(0, CONFIG.initial)}  # the random phase's losses (seed 0)


def test_an_iteration_whose_children_all_fail_only_ages_the_population(store):
    config = EvolutionConfig(initial=12, population=5, tournament=3, iterations=3)
    run_id, population = run_evolution(store, config=config, fn=failing(lambda key: key not in SAFE))
    steps, children = store.iterations(run_id), children_of(store, run_id)
    members = [(m.evaluation.id, 0) for m in evolution.initial_population(store, run_id, config)]
    for step in steps:
        bred = children[step["iteration"]]
        assert len(bred) == 7 and len({e.key for e in bred}) == 7 and all(e.status == "diverged" for e in bred)
        assert step["evaluation_id"] == bred[-1].id and step["parent_evaluation"] in {e for e, _ in members}
        members = [(e, a + 1) for e, a in members]
        assert [tuple(m) for m in step["population"]] == members
    assert [(m.evaluation.id, m.age) for m in population] == members


def test_a_failed_child_is_bred_again_from_the_same_parent(store, tmp_path, monkeypatch):
    breeds = []
    real_breed = evolution.breed

    def spy(population, config, rng, taken, parent=None):
        bred = real_breed(population, config, rng, taken, parent)
        breeds.append((parent, bred[0]))
        return bred

    monkeypatch.setattr(evolution, "breed", spy)
    config = EvolutionConfig(initial=12, population=5, tournament=3, iterations=1)
    run_id, _ = run_evolution(store, "all-fail", config, failing(lambda key: key not in SAFE))
    all_failed = [e.key for e in children_of(store, run_id)[0]]
    breeds.clear()
    with Store(tmp_path / "two-fail", create=True) as fresh:  # trains every child (none reused)
        other, _ = run_evolution(fresh, "two-fail", config, failing(lambda key: key in all_failed[:2]))
        (step,) = fresh.iterations(other)
        bred = children_of(fresh, other)[0]
    assert len(bred) >= 3 and [e.reason for e in bred[:2]] == ["chosen to fail"] * 2 and bred[-1].status == "ok"
    assert [e.key for e in bred] == all_failed[:len(bred)]  # bred as in the first run, until one succeeds
    assert (bred[-1].id, 0) in [tuple(m) for m in step["population"]]
    (first_parent, parent), *retries = breeds
    assert first_parent is None and len(retries) == len(bred) - 1 and all(given is parent for given, _ in retries)
    assert step["parent_evaluation"] == parent.evaluation.id


def test_concurrent_evolution_in_worker_processes(store):
    config = EvolutionConfig(initial=6, population=3, tournament=2, iterations=6)
    pool = executors.Pool(2)
    try:
        run_id, population = run_evolution(store, config=config, executor=pool)
    finally:
        pool.close()
    steps, children = store.iterations(run_id), children_of(store, run_id)
    assert sorted(s["iteration"] for s in steps) == list(range(6)) and len(store.evaluations(run_id, "random")) == 6
    assert all(children[s["iteration"]][-1].id == s["evaluation_id"] for s in steps)
    keys = [m.candidate.key for m in population]
    assert len(keys) == len(set(keys))


def test_bad_configurations_raise():
    with pytest.raises(SearchError):
        EvolutionConfig(initial=3, population=5, tournament=2, iterations=1)


# ---- elimination -------------------------------------------------------------------------
def test_elimination_carries_the_best_through_its_stages_and_resumes(store):
    run_id, _ = run_evolution(store)
    source = store.evaluations(run_id)
    stages = (Stage("long", "demo-long", 6), Stage("large-1", "demo-large", 4),
              Stage("large-2", "demo-large", 3, seed_offset=1))

    def stage_job(candidate, technique, stage):
        return Job(candidate.genome.to_dict(), technique, stage.preset, stage.seed_offset)

    elimination = store.create_run("eliminate", "e", {}, 0)
    calls = Counting()
    finalists = eliminate(context(store, elimination, calls, stage_job), source, stages, "base")
    assert [len(store.evaluations(elimination, s.name)) for s in stages] == [6, 4, 3]
    assert calls.calls == 13
    best_searched = sorted({e.key: e.fitness for e in source if e.genome}.items(), key=lambda kv: -kv[1])[:6]
    assert {e.key for e in store.evaluations(elimination, "long")} == {k for k, _ in best_searched}
    large = [e for s in ("large-1", "large-2") for e in store.evaluations(elimination, s)]
    finalist_keys = {e.key for e in store.evaluations(elimination, "large-2")}
    means = {k: np.mean([e.fitness for e in large if e.key == k]) for k in finalist_keys}
    assert [f.key for f in finalists] == sorted(means, key=lambda k: -means[k])[:3]
    assert all(f.runs == 2 for f in finalists)
    eliminate(context(store, elimination, calls, stage_job), source, stages, "base")
    assert calls.calls == 13  # resumed: nothing retrained


def test_a_different_setting_is_trained_again_in_the_same_run(store):
    run_id = store.create_run("random", "r", {}, 0)
    candidates = plan(4, 3)
    calls = Counting()
    train_candidates(context(store, run_id, calls), candidates, ["base"])
    longer = lambda candidate, technique: Job(candidate.genome.to_dict(), technique, "demo", 0, overrides=(("steps", 9),))  # noqa: E731
    train_candidates(context(store, run_id, calls, longer), candidates, ["base"])
    assert calls.calls == 6 and len({e.setting for e in store.evaluations(run_id)}) == 2


# ---- breed: a parent that yields nothing is drawn again; SearchError when nothing works --------
NO_YHAT = {"h0": ("ln", ("y",)), "h1": ("exp", ("-1",)), "h2": ("exp", ("-1",)), "h3": ("exp", ("-1",)),
           "root": ("neg", ("h0",))}  # y alone: invalid


class Barren(Genome):
    """A parent each of whose mutations is invalid (it reads y only); counts them."""

    calls = 0

    def mutate(self, rng=None):
        Barren.calls += 1
        return Genome(NO_YHAT)


class Fertile(Genome):
    """A parent whose first mutation is a valid, novel child (a fixed random genome, flip unset)."""

    child = Genome(Genome.random(3).nodes)

    def mutate(self, rng=None):
        return Fertile.child


def member(genome_class, seed, fitness):
    genome = Genome.random(seed)
    return Member(Candidate(genome_class(genome.nodes, genome.flip)), SimpleNamespace(fitness=fitness), 0)


def test_breed_draws_another_parent_when_one_yields_no_acceptable_child(monkeypatch):
    config = EvolutionConfig(initial=2, population=2, tournament=1, iterations=1, max_attempts=5)
    population = [member(Barren, 1, 0.9), member(Fertile, 2, 0.1)]
    assert all(m.candidate.genome.check().valid for m in population)
    real_tournament = evolution.tournament
    redrawn = 0
    for seed in range(20):
        drawn = []
        monkeypatch.setattr(evolution, "tournament",
                            lambda *args: drawn.append(real_tournament(*args)) or drawn[-1])
        Barren.calls = 0
        parent, child, attempts = evolution.breed(population, config, np.random.default_rng(seed), set())
        barren_draws = len(drawn) - 1
        assert drawn[-1] is parent is population[1] and all(d is population[0] for d in drawn[:-1])
        assert Barren.calls == 5 * barren_draws  # max_attempts mutations of each barren draw, no more
        assert attempts == Barren.calls + 1  # and the fertile parent's first child is taken
        assert child.genome.nodes == Fertile.child.nodes and child.genome.flip == Fertile.child.check().flip
        redrawn += barren_draws > 0
    assert redrawn >= 5  # the barren parent (1 in 2 per tournament of one) was drawn first often


def test_breed_raises_search_error_when_no_parent_yields_a_child():
    config = EvolutionConfig(initial=2, population=2, tournament=2, iterations=1, max_attempts=3)
    population = [member(Barren, 1, 0.9), member(Barren, 2, 0.1)]
    Barren.calls = 0
    with pytest.raises(SearchError, match="no novel child after 300 mutations"):
        evolution.breed(population, config, np.random.default_rng(0), set())
    assert Barren.calls == evolution.MAX_PARENT_DRAWS * 3 == 300


# ---- Kendall's tau between the elimination's first two stages -------------------------------
def stored_fitness(store, run_name, stage):
    """{key: fitness} of a run's stage, straight from SQLite (the latest where a key repeats)."""
    rows = store.connection.execute(
        "SELECT e.key, e.fitness FROM evaluations e JOIN runs r ON r.id = e.run_id "
        "WHERE r.name = ? AND e.stage = ? ORDER BY e.id", (run_name, stage)).fetchall()
    return dict(rows)


def test_elimination_tau_is_scipys_between_the_long_surrogate_and_the_large_model(store):
    run_id, _ = run_evolution(store)
    assert math.isnan(runs.elimination_tau(store, "demo")[0])  # no elimination yet
    runs.run_elimination(store, run_id, runs.EvolveSpec(), "demo", executor=executors.InProcess(), fn=standin_job)
    long, large = stored_fitness(store, "eliminate-demo", "long"), stored_fitness(store, "eliminate-demo", "large-1")
    assert len(long) == 10 and len(large) == 6 and set(large) <= set(long)
    keys = sorted(large)
    expected = kendalltau([long[k] for k in keys], [large[k] for k in keys]).statistic
    assert runs.elimination_tau(store, "demo") == (pytest.approx(expected), 6)
    searched = {e.key: e.fitness for e in runs.top(store, run_id, None)}
    assert expected != pytest.approx(kendalltau([searched[k] for k in keys], [large[k] for k in keys]).statistic)
    # the long stage run again in another setting: its latest evaluation of each loss counts
    elimination = store.run("eliminate-demo")["id"]
    genomes = {e.key: e.genome for e in store.evaluations(elimination)}
    with store.transaction():
        for key in keys:
            store.add_evaluation(run_id=elimination, stage="long", setting="again", technique="base", preset="demo",
                                 seed=1, key=key, genome=genomes[key], iteration=None, fitness=2 - long[key],
                                 status="ok", reason=None, steps=1, wall_s=0.0)
    assert runs.elimination_tau(store, "demo") == (pytest.approx(-expected), 6)
    first, second = ELIMINATION_PRESETS["demo"][:2]
    assert stage_tau(store, elimination, first, second) == (pytest.approx(-expected), 6)


def test_an_elimination_trains_with_the_runs_carried_options_and_keeps_them(store):
    run_id, _ = run_evolution(store)
    spec = runs.EvolveSpec(train_overrides={"steps": 7, "cutout_size": 8, "precision": "bf16"})
    jobs = []

    def recording(job):
        jobs.append(job)
        return standin_job(job)

    finalists = runs.run_elimination(store, run_id, spec, "demo", executor=executors.InProcess(), fn=recording,
                                     overrides={"steps": 5})
    wanted = {"cutout_size": 8, "precision": "bf16", "steps": 5}  # the run's steps belong to its search preset
    assert len(jobs) == runs.elimination_size("demo") and {job.overrides for job in jobs} == {tuple(wanted.items())}
    assert store.run("eliminate-demo")["config"] == {"preset": "demo", "overrides": wanted}
    bare = runs.EvolveSpec()  # the finalists are read with the stored options, whatever the spec carries
    assert runs.elimination_finalists(store, bare, "demo", "eliminate-demo") == finalists
    runs.run_elimination(store, run_id, spec, "demo", executor=executors.InProcess(), fn=recording)  # None: the stored
    assert len(jobs) == runs.elimination_size("demo")  # nothing trained again
    with pytest.raises(ConfigError, match="eliminate-demo was made with overrides"):
        runs.run_elimination(store, run_id, spec, "demo", executor=executors.InProcess(), fn=recording,
                             overrides={"steps": 6})


def test_a_study_keeps_its_options_and_refuses_others(store):
    run_study(store, 4, ("base", "mixup"), "demo", 0, top_k=2, overrides={"steps": 20}, fn=standin_job)
    assert store.run("correlate")["config"]["overrides"] == {"steps": 20}
    run_study(store, 4, ("base", "mixup"), "demo", 0, top_k=2, overrides={"steps": 20}, fn=standin_job)  # resumes
    for changed in ({"overrides": {"steps": 30}}, {"overrides": {"steps": 20, "cutout_size": 8}}, {"seed": 1}):
        arguments = {"overrides": {"steps": 20}, "seed": 0, **changed}
        with pytest.raises(ConfigError, match="correlate was made with"):
            run_study(store, 4, ("base", "mixup"), "demo", top_k=2, fn=standin_job, **arguments)


# ---- runs -------------------------------------------------------------------------------------
def test_a_run_jobs_overrides_apply_on_its_search_preset_too():
    spec = runs.EvolveSpec(train_overrides={"steps": 7, "batch_size": 8})
    candidate = plan(0, 1)[0]
    assert dict(spec.job(candidate, "base").overrides) == {"steps": 7, "batch_size": 8}
    assert dict(spec.job(candidate, "base", overrides={"steps": 3}).overrides) == {"steps": 3, "batch_size": 8}
    assert spec.job(candidate, "base", overrides={"steps": 3}).preset == spec.search.train
    assert dict(spec.job(candidate, "base", "demo-long", overrides={"steps": 3}).overrides) == {"steps": 3}

"""LOSS references that succeed: RUN_DIR:best and RUN_DIR:bestN name the run's ranked losses."""
import pytest

from symloss import Genome, Loss, references
from symloss.search import runs
from symloss.store import Store, StoreError


@pytest.fixture
def ranked_run(tmp_path):
    """A run store with three searched losses of fitness 0.5, 0.9 and 0.7 (written directly)."""
    genomes = [Genome.random(seed) for seed in (1, 2, 3)]
    with Store(tmp_path, create=True) as store:
        run_id = store.create_run("evolve", runs.EVOLVE_RUN, {}, 0)
        for genome, fitness in zip(genomes, (0.5, 0.9, 0.7)):
            loss = Loss.from_genome(genome)
            store.add_genome(loss.key, genome.to_dict(), loss.text(), loss.latex(), genome.normalised_phenotype())
            store.add_evaluation(run_id=run_id, stage=runs.RANDOM_STAGE, setting="demo|base|seed=0|",
                                 technique="base", preset="demo", seed=0, key=loss.key, genome=genome.to_dict(),
                                 iteration=None, fitness=fitness, status="ok", reason=None, steps=1, wall_s=0.1)
    return tmp_path, genomes


def test_best_and_best_n_name_the_ranked_losses(ranked_run):
    directory, genomes = ranked_run
    assert references.resolve(f"{directory}:best").key == Loss.from_genome(genomes[1]).key
    assert references.resolve(f"{directory}:best2").key == Loss.from_genome(genomes[2]).key
    third = references.resolve(f"{directory}:best3")
    assert third.key == Loss.from_genome(genomes[0]).key and third.name.endswith(":best3")
    with pytest.raises(StoreError, match="not 4"):
        references.resolve(f"{directory}:best4")

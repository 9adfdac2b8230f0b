import json
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("symloss", deadline=None, max_examples=40, derandomize=True)
settings.load_profile("symloss")

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def fixture_records():
    return [json.loads(line) for line in (DATA / "genomes.jsonl").read_text().splitlines() if line.strip()]


@pytest.fixture(scope="session")
def fixture_inputs():
    return json.loads((DATA / "inputs.json").read_text())


def make_genome(flip=None, **nodes):
    """A genome from keyword nodes: h0=("ln", "yhat"); unlisted hidden nodes are exp(-1)."""
    from symloss import Genome

    full = {h: ("exp", ("-1",)) for h in ("h0", "h1", "h2", "h3")}
    for node, (op, *args) in nodes.items():
        full[node] = (op, tuple(args))
    return Genome(full, flip=flip)

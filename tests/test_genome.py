"""Genomes: exchange format, errors, validity against the spec and fixtures, random, mutation."""
import json
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import oracle
from conftest import make_genome
from symloss import Genome, GenomeError, Loss, ops
from symloss.genome import HIDDEN, INPUTS, ROOT, _random_nodes, as_rng

seeds = st.integers(min_value=0, max_value=2**32 - 1)


# ---- fixtures from the independent reference implementation ------------------------
def test_fixture_verdicts_and_flips_agree(fixture_records):
    disagreements = []
    for record in fixture_records:
        verdict = Genome.from_dict(record["genome"]).check()
        if verdict.valid != record["valid"] or (record["valid"] and verdict.flip != record["flip"]):
            disagreements.append((record, verdict))
    assert not disagreements


def test_fixture_per_sample_losses_agree(fixture_records, fixture_inputs):
    y = torch.tensor(fixture_inputs["y"], dtype=torch.float64)
    yhat = torch.tensor(fixture_inputs["yhat"], dtype=torch.float64)
    valid = [r for r in fixture_records if r["valid"]]
    assert len(valid) >= 50
    for record in valid:
        genome = Genome.from_dict(record["genome"])
        expected = np.array(record["per_sample"])
        np.testing.assert_allclose(genome.evaluate(y, yhat).numpy(), expected, rtol=1e-9)
        compiled = Loss.from_genome(genome).torch()(y, yhat).numpy()
        np.testing.assert_allclose(compiled, expected, rtol=1e-6, atol=1e-9)


# ---- exchange format -----------------------------------------------------------------
@given(seeds)
def test_json_round_trip(seed):
    genome = Genome.random(seed)
    assert Genome.from_dict(genome.to_dict()) == genome
    assert Genome.from_json(genome.to_json()) == genome
    assert Genome.from_json(json.dumps(genome.to_dict())).to_dict() == genome.to_dict()


def test_flip_may_be_omitted_and_is_then_derived(fixture_records):
    record = next(r for r in fixture_records if r["valid"] and r["flip"])
    genome = Genome.from_dict(record["genome"])
    assert genome.flip is True and genome.to_dict()["flip"] is True


def test_an_invalid_genome_given_without_flip_is_written_without_flip():
    no_yhat = make_genome(h0=("ln", "y"), root=("neg", "h0"))
    assert not no_yhat.check().valid and no_yhat.flip is None
    document = no_yhat.to_dict()
    assert "flip" not in document  # not "flip": false, a sign nobody gave or derived
    again = Genome.from_dict(json.loads(json.dumps(document)))
    assert again == no_yhat and again.flip is None and "flip" not in again.to_dict()
    given = make_genome(h0=("ln", "y"), root=("neg", "h0"), flip=True)  # a given flip is data: kept
    assert given.to_dict()["flip"] is True
    derived = make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), root=("neg", "h1"))
    assert derived.to_dict()["flip"] is False  # a valid genome's derived flip is written


def ce_document(**changes):
    document = {"format": "symloss.genome/1",
                "nodes": [{"id": "h0", "op": "ln", "args": ["yhat"]},
                          {"id": "h1", "op": "mul", "args": ["y", "h0"]},
                          {"id": "h2", "op": "exp", "args": ["-1"]},
                          {"id": "h3", "op": "add", "args": ["h2", "1"]},
                          {"id": "root", "op": "neg", "args": ["h1"]}]}
    for node_id, (op, args) in changes.items():
        node = next(n for n in document["nodes"] if n["id"] == node_id)
        node.update(op=op, args=args)
    return document


@pytest.mark.parametrize("document, culprit", [
    (ce_document(h2=("frobnicate", ["-1"])), "frobnicate"),
    (ce_document(h2=("add", ["-1"])), "add takes 2"),
    (ce_document(h2=("exp", ["-1", "y"])), "exp takes 1"),
    (ce_document(h2=("exp", ["h7"])), "h7"),
    (ce_document(h2=("exp", ["h2"])), "reads itself"),
    (ce_document(root=("neg", ["y"])), "root reads input"),
    (ce_document(root=("neg", ["root"])), "root"),
    (ce_document(h0=("ln", ["h1"])), "cycle"),
    ({"format": "other/9", "nodes": []}, "format"),
    ({"nodes": ce_document()["nodes"][:4]}, "missing"),
    ({"nodes": ce_document()["nodes"] + [{"id": "h9", "op": "neg", "args": ["y"]}]}, "h9"),
    ({"nodes": ce_document()["nodes"] + [{"id": "h0", "op": "neg", "args": ["y"]}]}, "twice"),
    ({"nodes": ce_document()["nodes"], "flip": "yes"}, "flip"),
    ({"nodes": ce_document()["nodes"], "colour": 1}, "colour"),
    ([1, 2], "object"),
])
def test_malformed_genomes_raise_naming_the_problem(document, culprit):
    with pytest.raises(GenomeError, match=culprit):
        Genome.from_dict(document)


def test_not_json_raises_genome_error():
    with pytest.raises(GenomeError, match="not JSON"):
        Genome.from_json("{nodes: ")


def test_a_cycle_among_inactive_nodes_is_carried():
    document = ce_document(h2=("exp", ["h3"]), h3=("add", ["h2", "1"]))
    genome = Genome.from_dict(document)
    assert genome.check().valid and "h2" not in genome.active


# ---- validity against the spec ---------------------------------------------------------
def test_check_agrees_with_an_independent_reading_of_the_spec():
    rng = np.random.default_rng(7)
    total, disagreements = 0, []
    while total < 400:
        genome = Genome(_random_nodes(rng))
        if genome.check().reason and "cycle" in genome.check().reason:
            continue
        total += 1
        verdict = genome.check()
        expected = oracle.verdict(genome.to_dict() | {"flip": False})
        if (verdict.valid, verdict.flip) != expected:
            disagreements.append((genome, verdict, expected))
    assert disagreements == []  # observed: 400 of 400


SOFTPLUS_OVERFLOW = make_genome(h0=("div", "yhat", "y"), h1=("min", "1", "yhat"), h2=("softplus", "h0"),
                                h3=("asinh", "h0"), root=("div", "h2", "h3"))


def test_softplus_is_valued_where_its_literal_formula_overflows():
    """softplus(yhat/(0 + eps)) ~ softplus(1e7): ln(|1 + e^x| + eps) evaluated literally overflows to
    inf in float64, but its value is finite (about x): the genome is judged on that value."""
    with np.errstate(over="ignore"):
        assert np.isinf(np.log(np.abs(1 + np.exp(1e7)) + oracle.EPS))
    assert SOFTPLUS_OVERFLOW.check().valid
    assert oracle.verdict(SOFTPLUS_OVERFLOW.to_dict() | {"flip": False}) == (True, SOFTPLUS_OVERFLOW.check().flip)


def test_check_rejects_unused_inputs_and_centre_extrema():
    no_yhat = make_genome(h0=("ln", "y"), root=("neg", "h0"))
    assert not no_yhat.check().valid and "yhat" in no_yhat.check().reason
    peaked = make_genome(h0=("sub", "1", "yhat"), h1=("mul", "yhat", "h0"), h2=("min0", "y"),
                         h3=("add", "h1", "h2"), root=("neg", "h3"))  # -2p(1-p): peak at p = 0.5
    assert not peaked.check().valid and "0.5" in peaked.check().reason


def test_check_derives_flip_for_decreasing_losses():
    reward = make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), root=("abs", "h1"))
    assert reward.check().flip is False  # |y ln yhat| = CE, increasing in p
    ce_negated = make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), h2=("min0", "y"), root=("add", "h1", "h2"))
    assert ce_negated.check().flip is True
    assert Loss.from_genome(ce_negated).key == Loss.parse("-y*log(yhat)").key


def test_flip_is_evaluated_off_even_for_flipped_parents():
    ce = make_genome(h0=("ln", "yhat"), h1=("mul", "y", "h0"), root=("neg", "h1"), flip=True)
    assert ce.check().flip is False  # the given flip is data, the check ignores it


# ---- random genomes ------------------------------------------------------------------------
def test_random_is_deterministic_under_a_seed():
    assert Genome.random(11) == Genome.random(11)
    assert [Genome.random(as_rng(3)) for _ in range(1)] == [Genome.random(3)]
    assert len({Genome.random(s) for s in range(20)}) == 20


@given(seeds)
def test_random_genomes_are_valid_with_their_flip(seed):
    genome = Genome.random(seed)
    verdict = genome.check()
    assert verdict.valid and genome.flip == verdict.flip
    assert {"y", "yhat"} <= genome.active


def test_random_proposals_follow_the_reference_distribution():
    rng = np.random.default_rng(0)
    hidden_unary = root_unary = 0
    ops_seen = Counter()
    draws = 4000
    for _ in range(draws):
        nodes = _random_nodes(rng)
        for node, (op, args) in nodes.items():
            ops_seen[op] += 1
            allowed = HIDDEN if node == ROOT else INPUTS + tuple(h for h in HIDDEN if h != node)
            assert set(args) <= set(allowed) and len(set(args)) == len(args)
        hidden_unary += sum(len(nodes[h][1]) == 1 for h in HIDDEN)
        root_unary += len(nodes[ROOT][1]) == 1
    assert abs(hidden_unary / (4 * draws) - 0.7) < 0.02
    assert abs(root_unary / draws - 0.2) < 0.02
    unary_counts = [ops_seen[name] for name in ops.UNARY_NAMES]
    assert max(unary_counts) / min(unary_counts) < 1.5  # uniform among unary ops


# ---- mutation ------------------------------------------------------------------------------
@given(seeds, seeds)
def test_mutation_keeps_genomes_well_formed_and_changes_one_active_node(genome_seed, mutation_seed):
    parent = Genome.random(genome_seed)
    rng = np.random.default_rng(mutation_seed)
    for _ in range(10):
        child = parent.mutate(rng)
        changed = [n for n in child.nodes if child.nodes[n] != parent.nodes[n]]
        assert len(changed) == 1 and changed[0] in parent.active
        document = child.to_dict()
        if child.active_cycle():  # the exchange format refuses an active cycle
            with pytest.raises(GenomeError, match="cycle"):
                Genome.from_dict(document)
        else:
            again = Genome.from_dict(document)
            assert again.nodes == child.nodes and again.flip == child.flip and again.check() == child.check()
        parent = child if child.check().valid else parent


def classify(parent, child):
    node = next(n for n in child.nodes if child.nodes[n] != parent.nodes[n])
    (op_before, args_before), (op_after, args_after) = parent.nodes[node], child.nodes[node]
    if len(args_before) != len(args_after):
        return "toggle"
    if op_before != op_after:
        assert args_before == args_after
        return "change"
    return "swap" if args_after == args_before[::-1] and len(args_after) == 2 else "rewire"


def test_mutation_follows_the_reference_probabilities():
    rng = np.random.default_rng(1)
    parent = Genome.from_dict(ce_document())
    kinds = Counter(classify(parent, parent.mutate(rng)) for _ in range(6000))
    assert abs(kinds["change"] / 6000 - 0.70) < 0.025
    assert abs((kinds["rewire"] + kinds["swap"]) / 6000 - 0.15) < 0.02
    assert abs(kinds["toggle"] / 6000 - 0.15) < 0.02
    assert kinds["swap"] > 0  # the root of CE is unary; h1 (mul) is binary and can swap


def test_rewiring_picks_a_source_not_already_read():
    rng = np.random.default_rng(5)
    parent = Genome.from_dict(ce_document())
    for _ in range(500):
        child = parent.mutate(rng)
        for node, (op, args) in child.nodes.items():
            if child.nodes[node] != parent.nodes[node] and len(args) == 2:
                assert args[0] != args[1]


def test_mutation_is_deterministic_under_a_seed():
    parent = Genome.random(2)
    assert parent.mutate(9) == parent.mutate(9)

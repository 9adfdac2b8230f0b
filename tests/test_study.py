"""The correlation study and result tables: tau as scipy computes it, the best-k set, clusters."""
import json
import sqlite3
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.stats import kendalltau

from symloss.study import best_k, clusters, kendall, kendall_tau, summarise
from symloss_cli.main import main

TECHNIQUES = ["base", "cutout", "mixup", "randaug", "all"]


def test_kendall_equals_scipy_over_all_and_over_the_best_k():
    rng = np.random.default_rng(0)
    accuracies = {t: rng.random(60).tolist() for t in TECHNIQUES}
    table = kendall(accuracies, TECHNIQUES, 20)
    assert list(table) == [f"{a}-{b}" for a, b in combinations(TECHNIQUES, 2)]
    for a, b in combinations(TECHNIQUES, 2):
        x, y = np.array(accuracies[a]), np.array(accuracies[b])
        assert table[f"{a}-{b}"]["all"] == pytest.approx(kendalltau(x, y).statistic)
        both = sorted(set(sorted(range(60), key=lambda i: -x[i])[:20]) & set(sorted(range(60), key=lambda i: -y[i])[:20]))
        assert table[f"{a}-{b}"]["best_count"] == len(both)
        assert table[f"{a}-{b}"]["best"] == pytest.approx(kendalltau(x[both], y[both]).statistic)


def test_kendall_tau_is_scipys_and_nan_below_two_pairs():
    x, y = [0.3, 0.1, 0.2, 0.7], [0.9, 0.8, 0.1, 0.5]
    assert kendall_tau(x, y) == pytest.approx(kendalltau(x, y).statistic)
    assert np.isnan(kendall_tau([0.5], [0.4])) and np.isnan(kendall_tau([], []))


def test_best_k_is_the_intersection_of_both_top_k():
    first = np.array([0.9, 0.8, 0.1, 0.7, 0.2])
    second = np.array([0.1, 0.9, 0.8, 0.7, 0.6])
    assert best_k(first, second, 3).tolist() == [1, 3]


def test_clusters_are_scipys_average_linkage():
    rng = np.random.default_rng(1)
    x, y = rng.random(40), rng.random(40)
    expected = fcluster(linkage(np.column_stack([x, y]), method="average"), t=4, criterion="maxclust")
    assert np.array_equal(clusters(x, y, 4), expected) and len(set(expected)) == 4


def test_summaries_give_mean_std_and_the_best_row_of_each_column():
    summary = summarise({"CE": {"base": [0.90, 0.92], "mixup": [0.95]}, "L1": {"base": [0.93, 0.95], "mixup": [0.94]}})
    assert summary.mean["CE", "base"] == pytest.approx(0.91) and summary.std["CE", "base"] == pytest.approx(0.0141421, rel=1e-4)
    assert summary.best == {"base": "L1", "mixup": "CE"}


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """5 losses x 3 techniques, 40 steps each: enough to set the losses apart (at 15 steps all sit
    near chance, 0.10, and most taus are NaN)."""
    run_dir = tmp_path_factory.mktemp("study") / "run"
    result = CliRunner().invoke(main, ["correlate", "--run-dir", str(run_dir), "--n", "5", "--techniques",
                                       "base,mixup,all", "--top-k", "3", "--steps", "40", "--json"])
    assert result.exit_code == 0, result.output
    return run_dir, json.loads(result.stdout)


def test_correlate_json_gives_the_matrix_and_the_accuracies(study_dir):
    run_dir, shown = study_dir
    assert shown["techniques"] == ["base", "mixup", "all"] and len(shown["losses"]) == 5
    connection = sqlite3.connect(Path(run_dir) / "store.sqlite")
    stored = {(t, k): f for t, k, f in connection.execute("SELECT technique, key, fitness FROM evaluations")}
    for technique in shown["techniques"]:
        assert shown["accuracies"][technique] == [stored[technique, key] for key in shown["losses"]]
    expected = expected_tau(*stored_accuracies(run_dir), 3)
    assert list(shown["tau"]) == list(expected)
    for pair, tau in shown["tau"].items():
        assert tau == pytest.approx(expected[pair], nan_ok=True), pair


def test_correlate_resumes_without_retraining(study_dir):
    run_dir, shown = study_dir
    count = lambda: sqlite3.connect(Path(run_dir) / "store.sqlite").execute("SELECT COUNT(*) FROM evaluations").fetchone()[0]  # noqa: E731
    before = count()
    again = CliRunner().invoke(main, ["correlate", "--run-dir", str(run_dir), "--n", "5", "--techniques",
                                      "base,mixup,all", "--top-k", "3", "--steps", "40", "--json"])
    assert again.exit_code == 0 and count() == before == 15
    assert json.loads(again.stdout)["accuracies"] == shown["accuracies"]


def test_table_tau_reads_the_study_back(study_dir):
    run_dir, shown = study_dir
    result = CliRunner().invoke(main, ["table", "tau", str(run_dir), "--top-k", "3", "--format", "text"])
    assert result.exit_code == 0
    written = lambda value: "--" if np.isnan(value) else f"{value:.3f}"  # noqa: E731
    expected = expected_tau(*stored_accuracies(run_dir), 3)
    rows = [line.split() for line in result.stdout.splitlines()]
    assert rows[0] == ["Pair", "All", "Best", "3"]
    assert rows[2:] == [[pair, written(tau["all"]), written(tau["best"])] for pair, tau in expected.items()]
    assert sum(not np.isnan(tau[which]) for tau in expected.values() for which in ("all", "best")) >= 4


def stored_accuracies(run_dir):
    """(techniques, {technique: fitness of each loss}) straight from SQLite, losses in the order drawn."""
    rows = sqlite3.connect(Path(run_dir) / "store.sqlite").execute(
        "SELECT technique, key, fitness, iteration FROM evaluations").fetchall()
    order = sorted({(iteration, key) for _, key, _, iteration in rows})
    fitness = {(technique, key): value for technique, key, value, _ in rows}
    techniques = [t for t in TECHNIQUES if any(t == technique for technique, *_ in rows)]
    return techniques, {t: np.array([fitness[t, key] for _, key in order]) for t in techniques}


def expected_tau(techniques, accuracies, k):
    """Kendall's tau by scipy for each pair: over all losses, and over those in both top k (ties: the earlier)."""
    def top(values):
        return set(sorted(range(len(values)), key=lambda i: (-values[i], i))[:k])

    table = {}
    for a, b in combinations(techniques, 2):
        x, y = accuracies[a], accuracies[b]
        both = sorted(top(x) & top(y))
        best = kendalltau(x[both], y[both]).statistic if len(both) >= 2 else float("nan")
        table[f"{a}-{b}"] = {"all": kendalltau(x, y).statistic, "best": best, "best_count": len(both)}
    return table


def test_correlate_rejects_unknown_techniques(tmp_path):
    result = CliRunner().invoke(main, ["correlate", "--run-dir", str(tmp_path / "r"), "--techniques", "base,autoaugment"])
    assert result.exit_code == 2 and "autoaugment" in result.stderr

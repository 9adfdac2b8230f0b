"""The command line: what it prints, and one line plus exit 2 for every bad input."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from symloss import Genome, Loss, train, zoo
from symloss_cli.main import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_show_zoo_name_prints_simplified_form_latex_key_and_verdict():
    result = run("show", "ce")
    assert result.exit_code == 0
    assert Loss.parse("-y*log(yhat)").key in result.stdout
    assert r"\log\left(\hat{y}\right)" in result.stdout
    assert "valid (flip=false)" in result.stdout


def test_show_expression_and_json_output():
    result = run("show", "--json", "yhat*(1 - yhat)")
    assert result.exit_code == 0
    shown = json.loads(result.stdout)
    assert shown["key"] == Loss.parse("yhat*(1 - yhat)").key
    assert shown["verdict"].startswith("invalid")


def test_show_genome_file(tmp_path):
    path = tmp_path / "ce.json"
    path.write_text(json.dumps(zoo.CE_GENOME))
    result = run("show", str(path))
    assert result.exit_code == 0 and Loss.from_genome(zoo.ce_genome()).key in result.stdout


def test_random_prints_valid_genomes_deterministically():
    first = run("random", "-n", "3", "--seed", "4")
    assert first.exit_code == 0
    lines = first.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all(Genome.from_json(line).check().valid for line in lines)
    assert run("random", "-n", "3", "--seed", "4").stdout == first.stdout


@pytest.mark.parametrize("args", [
    ["show", "log(("], ["show", "z*y"], ["show", "missing.json"], ["show", "sqrt(-1)"],
    ["random", "-n", "0"],
])
def test_bad_input_is_one_line_on_stderr_and_exit_2(args, tmp_path):
    result = run(*args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    if args[0] == "show":
        assert len(result.stderr.strip().splitlines()) == 1


def test_malformed_genome_file_is_one_line(tmp_path):
    path = tmp_path / "bad.json"
    document = dict(zoo.CE_GENOME, nodes=zoo.CE_GENOME["nodes"][:4])
    path.write_text(json.dumps(document))
    result = run("show", str(path))
    assert result.exit_code == 2 and "missing node" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


SCRIPT = Path(sys.executable).parent / "symloss"


@pytest.mark.skipif(not SCRIPT.exists(), reason="console script not installed beside this Python")
def test_installed_console_script_reports_errors_without_traceback():
    result = subprocess.run([str(SCRIPT), "show", "log(("], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("precision", ["auto", "bf16"])
def test_train_prints_the_evaluation(precision):
    result = run("train", "ce", "--preset", "demo", "--steps", "30", "--precision", precision, "--json")
    assert result.exit_code == 0
    evaluation = json.loads(result.stdout)
    assert evaluation["status"] == "ok" and evaluation["steps"] == 30 and 0 < evaluation["fitness"] <= 1
    same = train.evaluate("ce", "demo", "base", seed=0, steps=30, precision=precision)
    assert evaluation["history"] == same.history


@pytest.mark.parametrize("args, culprit", [
    (["train", "ce", "--preset", "nope"], "nope"),
    (["train", "ce", "--preset", "paper-surrogate"], "data root"),
    (["train", "ce", "--preset", "paper-surrogate", "--data-root", "/nonexistent/data"], "--download"),
    (["train", "log((", "--preset", "demo"], "cannot parse"),
    (["train", "ce", "--precision", "fp16"], "fp16"),
])
def test_train_errors_are_one_line_and_exit_2(args, culprit):
    result = run(*args)
    assert result.exit_code == 2 and culprit in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args, culprit", [
    (["show", "notes.txt"], "not JSON"),
    (["show", "nowhere:best0"], "nowhere:best0"),
    (["train", "ce", "--weights", "w.pt", "--steps", "1"], "weights"),
])
def test_more_bad_inputs_are_one_line(args, culprit, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a genome")
    result = run(*args)
    assert result.exit_code == 2 and culprit in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

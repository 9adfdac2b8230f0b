"""The command line parses its arguments and prints its help without torch (issue #16).

Each check runs in a fresh interpreter: what a command imports is read from sys.modules after
it ran. Speed itself is measured by benchmarks/cli_latency.py, not here."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "torchvision", "sympy", "scipy", "matplotlib", "networkx")

PROBE = """
import json, sys
from click.testing import CliRunner
from symloss_cli.main import main
result = CliRunner().invoke(main, json.loads(sys.argv[1]), prog_name="symloss", catch_exceptions=False)
print(json.dumps({"exit_code": result.exit_code, "output": result.output,
                  "modules": sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))}))
"""


def imported_by(args: list[str], cwd=None) -> dict:
    """Runs `symloss ARGS` in a new interpreter: its exit code, output and the heavy packages it imported."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
                          capture_output=True, text=True, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_symloss_is_light():
    code = "import json, sys, symloss; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert not set(json.loads(done.stdout)) & set(HEAVY)


@pytest.mark.parametrize("args", [
    ["--help"], ["--version"], ["evolve", "--help"], ["table", "--help"], ["table", "tau", "--help"],
    ["table", "equations", "--help"], ["show", "--help"], ["random", "--help"], ["top", "--help"],
    ["train", "--help"], ["eliminate", "--help"], ["correlate", "--help"], ["plot", "--help"],
    ["report", "--help"], ["export", "--help"],
])
def test_help_imports_neither_torch_nor_sympy(args):
    result = imported_by(args)
    assert result["exit_code"] == 0, result["output"]
    assert result["output"].startswith("Usage: symloss") or result["output"].startswith("symloss, version")
    assert result["modules"] == []


@pytest.mark.parametrize("args, message", [
    (["evolve", "--augment", "nope"], "Invalid value for '--augment'"),
    (["evolve", "--executor", "nope"], "Invalid value for '--executor'"),
    (["evolve", "--precision", "nope"], "Invalid value for '--precision'"),
    (["eliminate", "RUN", "--preset", "nope"], "Invalid value for '--preset'"),
    (["table", "tau", "RUN", "--format", "nope"], "Invalid value for '--format'"),
    (["correlate", "--techniques", "base,nope"], "give two or more of base, cutout, mixup, randaug, all"),
    (["export", "ce", "--format", "nope"], "Invalid value for '--format'"),
    (["train", "ce", "--dataset", "nope"], "Invalid value for '--dataset'"),
])
def test_bad_choices_are_refused_before_anything_heavy(args, message):
    result = imported_by(args)
    assert result["exit_code"] == 2
    assert message in result["output"]
    assert result["modules"] == []


def test_show_needs_no_trainer():
    result = imported_by(["show", "ce"])
    assert result["exit_code"] == 0 and "valid" in result["output"]
    assert result["modules"] == ["networkx", "sympy", "torch"]  # no torchvision, matplotlib or scipy


def test_the_light_choice_lists_are_the_library_lists():
    from symloss import augment, data, executors, export
    from symloss.render import tables
    from symloss.search import elimination
    from symloss_cli import names

    assert names.TECHNIQUES == augment.TECHNIQUES
    assert names.DATASETS == data.NAMES
    assert names.KINDS == executors.KINDS
    assert names.TABLE_FORMATS == tables.FORMATS
    assert names.ELIMINATION_PRESETS == tuple(elimination.ELIMINATION_PRESETS)
    assert names.EXPORT_FORMATS == tuple(export.FORMATS)

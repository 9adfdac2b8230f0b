"""Export and persistence: standalone modules that behave as loss.module() without symloss."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from symloss import ExpressionError, Genome, Loss, export, zoo
from symloss_cli.main import main

RUNNER = r"""
import importlib.util, json, sys
sys.modules["symloss"] = None  # symloss cannot be imported here: only torch
import torch
results = {}
for name, path in json.load(open(sys.argv[1])).items():
    spec = importlib.util.spec_from_file_location(f"exported_{len(results)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    torch.manual_seed(0)
    logits = (torch.rand(16, 10, dtype=torch.float64) * 8 - 4).requires_grad_(True)
    target = torch.arange(16) % 10
    value = module.SymbolicLoss(label_smoothing=0.1)(logits, target)
    value.backward()
    results[name] = {"value": value.item(), "grad": logits.grad.flatten().tolist()}
json.dump(results, open(sys.argv[2], "w"))
"""


def losses():
    chosen = {name: zoo.get(name) for name in zoo.names()}
    rng = np.random.default_rng(11)
    for index in range(50):
        chosen[f"random{index}"] = Loss.from_genome(Genome.random(rng))
    return chosen


def test_exported_modules_match_loss_module_without_symloss(tmp_path):
    chosen = losses()
    paths = {}
    for name, loss in chosen.items():
        paths[name] = str(tmp_path / f"{name}.py")
        (tmp_path / f"{name}.py").write_text(export.export(loss, "torch"))
    (tmp_path / "paths.json").write_text(json.dumps(paths))
    (tmp_path / "runner.py").write_text(RUNNER)
    done = subprocess.run([sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "paths.json"),
                           str(tmp_path / "out.json")], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    exported = json.loads((tmp_path / "out.json").read_text())
    for name, loss in chosen.items():
        torch.manual_seed(0)
        logits = (torch.rand(16, 10, dtype=torch.float64) * 8 - 4).requires_grad_(True)
        value = loss.module(label_smoothing=0.1)(logits, torch.arange(16) % 10)
        value.backward()
        np.testing.assert_allclose(exported[name]["value"], value.item(), rtol=1e-6, atol=1e-9, err_msg=name)
        np.testing.assert_allclose(exported[name]["grad"], logits.grad.flatten().numpy(), rtol=1e-6, atol=1e-9,
                                   err_msg=name)


def test_other_formats():
    focal = zoo.get("focal")
    assert export.export(focal, "latex").strip() == r"- y \left(\hat{y} - 1\right)^{2} \log\left(\hat{y}\right)"
    assert "PLog" in export.export(focal, "sympy")
    assert json.loads(export.export(zoo.get("ce"), "json"))["format"] == "symloss.genome/1"
    with pytest.raises(ExpressionError, match="no genome"):
        export.export(focal, "json")
    namespace = {}
    exec(export.export(focal, "python"), namespace)  # noqa: S102
    y = torch.nn.functional.one_hot(torch.arange(4) % 3, 3).double()
    yhat = torch.softmax(torch.randn(4, 3, dtype=torch.float64), -1)
    torch.testing.assert_close(namespace["per_sample_loss"](y, yhat), focal.torch()(y, yhat))


@pytest.mark.parametrize("source", ["focal", "random"])
def test_save_and_load_round_trip_key_and_values(source, tmp_path):
    loss = zoo.get("focal") if source == "focal" else Loss.from_genome(Genome.random(21))
    loaded = Loss.load(loss.save(tmp_path / "loss.json"))
    assert loaded.key == loss.key and loaded.genome == loss.genome and loaded.name == loss.name
    y = torch.nn.functional.one_hot(torch.arange(8) % 5, 5).double()
    yhat = torch.softmax(torch.randn(8, 5, dtype=torch.float64), -1)
    torch.testing.assert_close(loaded.torch()(y, yhat), loss.torch()(y, yhat))


def test_load_falls_back_to_the_genome_and_refuses_what_is_not_a_loss(tmp_path):
    loss = Loss.from_genome(Genome.random(5))
    document = loss.to_dict() | {"expression": "Unknown(Symbol('y'))"}
    assert Loss.from_dict(document).key == loss.key
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ExpressionError, match="not a saved symloss loss"):
        Loss.load(tmp_path / "bad.json")
    with pytest.raises(ExpressionError, match="cannot read"):
        Loss.from_dict(loss.to_dict() | {"expression": "__import__('os')", "genome": None})


def test_export_command(tmp_path):
    result = CliRunner().invoke(main, ["export", "-y*log(yhat)*(1-yhat)", "--format", "torch", "-o", str(tmp_path / "m.py")])
    assert result.exit_code == 0 and "class SymbolicLoss" in (tmp_path / "m.py").read_text()
    result = CliRunner().invoke(main, ["export", "focal", "--format", "json"])
    assert result.exit_code == 2 and "no genome" in result.stderr

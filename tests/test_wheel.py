"""A non-editable install works (issue #12): the wheel holds every package, and the CLI runs from it.

The wheel is built from a copy of the source tree, installed with --no-deps into a fresh virtual
environment that cannot see the source tree, and run from a directory outside it. The new environment
borrows this one's dependencies (torch, ...) through a .pth file naming this environment's
site-packages: a plain path line adds that directory to sys.path without processing the .pth files
in it, so the editable install of the source tree stays inactive there.
"""
import importlib.util
import json
import math
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 600  # only a guard against hangs
IGNORED = shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "*.egg-info", "__pycache__",
                                 ".hypothesis", ".pytest_cache", "*.sqlite")


def _pip_available():
    return importlib.util.find_spec("pip") is not None


def _packages_in_source():
    """Dotted names of every directory with an __init__.py under symloss/ and cli/ (cli/ is symloss_cli)."""
    names = set()
    for top, directory in (("symloss", ROOT / "symloss"), ("symloss_cli", ROOT / "cli")):
        for init in directory.rglob("__init__.py"):
            if "__pycache__" not in init.parts:
                names.add(".".join((top, *init.parent.relative_to(directory).parts)))
    return names


def _env():
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env["PYTHONNOUSERSITE"] = "1"
    return env


def _run(args, cwd, **kwargs):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
                            timeout=TIMEOUT, **kwargs)
    assert result.returncode == 0, f"{args} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin directory, site-packages, wheel): a fresh environment with the wheel installed, non-editable."""
    if not _pip_available():
        pytest.skip("pip is not available to build the wheel")
    tmp = tmp_path_factory.mktemp("wheel")
    source, wheels, env_dir = tmp / "source", tmp / "wheels", tmp / "venv"
    # A copy, so that the build leaves nothing in the working tree and no stale build/ gets in.
    shutil.copytree(ROOT, source, ignore=IGNORED)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "-w", wheels, source], cwd=tmp)
    (wheel,) = wheels.glob("symloss-*.whl")

    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
    paths = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], cwd=tmp)
    site_packages = Path(paths.stdout.strip())
    # This environment's pip installs into the new one, which does not yet see anything of ours.
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=tmp)

    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib"), *site.getsitepackages()}
    (site_packages / "_symloss_test_dependencies.pth").write_text(
        "".join(f"{path}\n" for path in sorted(ours) if Path(path).is_dir()))
    return python.parent, site_packages, wheel


def test_wheel_holds_every_package(installed):
    _, _, wheel = installed
    with zipfile.ZipFile(wheel) as archive:
        inits = {name for name in archive.namelist() if name.endswith("/__init__.py")}
    packages = {name.rsplit("/", 1)[0].replace("/", ".") for name in inits}
    assert packages == _packages_in_source()


def test_cli_runs_from_the_wheel(installed, tmp_path):
    """show, export (the exported module computes a finite loss) and a 30-step train, all from the wheel."""
    bin_dir, site_packages, _ = installed
    symloss = bin_dir / "symloss"
    # The longest command runs while the others do.
    train = subprocess.Popen([str(symloss), "train", "ce", "--preset", "demo", "--augment", "base", "--steps", "30"],
                             cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        shown = _run([symloss, "show", "ce"], cwd=tmp_path)
        assert "valid (flip=false)" in shown.stdout

        module_file = tmp_path / "ce_loss.py"
        _run([symloss, "export", "ce", "-o", module_file], cwd=tmp_path)
        assert "class SymbolicLoss" in module_file.read_text()
        check = f"""
import importlib.util, json, torch
import symloss, symloss_cli, symloss.models, symloss.render, symloss.search, symloss.study
spec = importlib.util.spec_from_file_location("ce_loss", {str(module_file)!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
torch.manual_seed(0)
value = module.SymbolicLoss()(torch.randn(4, 10), torch.tensor([0, 3, 9, 1])).item()
print(json.dumps({{"files": [symloss.__file__, symloss_cli.__file__], "value": value}}))
"""
        checked = json.loads(_run([bin_dir / "python", "-c", check], cwd=tmp_path).stdout)
        for path in map(Path, checked["files"]):
            assert path.resolve().is_relative_to(site_packages.resolve()), path
            assert not path.resolve().is_relative_to(ROOT), path
        assert math.isfinite(checked["value"]) and checked["value"] > 0

        stdout, stderr = train.communicate(timeout=TIMEOUT)
    finally:
        if train.poll() is None:
            train.kill()
            train.communicate()
    assert train.returncode == 0, f"train exited {train.returncode}\n{stdout}\n{stderr}"
    fitness = [line for line in stdout.splitlines() if line.startswith("fitness")]
    assert fitness, stdout
    assert 0.0 <= float(fitness[0].split()[1]) <= 1.0

"""The examples run as a user runs them, on the CPU (the timeout only guards against a hang)."""
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("name, expected", [
    ("zoo_in_three_lines.py", "focal loss on a random batch"),
    ("torchvision_training.py", "epoch 3"),
    ("search_imagefolder.py", "cross-entropy:"),
    ("correlation_on_ray.py", "base-cutout: tau"),
])
def test_example_runs(name, expected, tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert expected in done.stdout

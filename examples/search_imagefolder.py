"""A loss search on your own images: one folder per class (torchvision's ImageFolder layout).

    python examples/search_imagefolder.py PATH/TO/IMAGES

Without a path it writes a small folder of digit images first, to show the layout.
"""
import sys
import tempfile
from pathlib import Path

from PIL import Image

import symloss
from symloss.search import runs


def write_example_folder(root: Path, per_class: int = 30) -> Path:
    digits = symloss.data.load("digits").train
    counts = {}
    for image, label in zip(digits.images, digits.labels.tolist()):
        if counts.get(label, 0) < per_class:
            counts[label] = counts.get(label, 0) + 1
            (root / f"class_{label}").mkdir(parents=True, exist_ok=True)
            Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / f"class_{label}" / f"{counts[label]}.png")
    return root


workdir = Path(tempfile.mkdtemp(prefix="symloss-example-"))
images = Path(sys.argv[1]) if len(sys.argv) > 1 else write_example_folder(workdir / "images")

spec = runs.EvolveSpec(initial=6, population=3, tournament=2, iterations=4, data_root=str(images),
                       train_overrides={"dataset": "imagefolder", "steps": 60, "batch_size": 32})
store, run_id = runs.start(workdir / "run", spec)
with store:
    runs.run_evolution(store, run_id, spec)
    for rank, evaluation in enumerate(runs.top(store, run_id, 3), 1):
        print(f"{rank}. fitness {evaluation.fitness:.3f}  {store.genome(evaluation.key)['expression']}")
    print(f"cross-entropy: {runs.stored_baseline(store, run_id).fitness:.3f}; run directory: {workdir / 'run'}")

"""Write a learnable synthetic image folder (one folder of PNGs per class), for measuring speed
where the real data cannot be had (a GPU machine with no network), never for results.

Each class is a smooth random colour pattern, a faint variation on one shared by all classes;
an image is its class's pattern shifted by up to 4 pixels, with its own brightness and strong
pixel noise. A network learns it within a few hundred steps but not perfectly, so training
behaves as on real data (no early stop, no chance-level plateau, no 100% ceiling).
Prints one JSON line. Train on it with the preset's data set replaced by `imagefolder`:

    python benchmarks/synthetic_images.py DIR [--classes 10] [--per-class 2500] [--size 32]
    python benchmarks/throughput.py --dataset imagefolder --data-root DIR
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

SHIFT = 4
CONTRAST = 0.15  # how far a class's pattern strays from the shared one
NOISE = 0.35  # standard deviation of the pixel noise


def class_patterns(classes: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """(classes, size + 2*SHIFT, size + 2*SHIFT, 3) smooth colour patterns in [0, 1]."""
    shared = rng.random((1, 3, 4, 4), dtype=np.float32)
    own = rng.random((classes, 3, 4, 4), dtype=np.float32)
    coarse = torch.from_numpy((1 - CONTRAST) * shared + CONTRAST * own)
    fine = F.interpolate(coarse, size=size + 2 * SHIFT, mode="bicubic", align_corners=False).clamp(0, 1)
    return fine.permute(0, 2, 3, 1).numpy()


def image_of(pattern: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """One uint8 (size, size, 3) image: the pattern shifted, rescaled in brightness, with noise."""
    top, left = rng.integers(0, 2 * SHIFT + 1, size=2)
    crop = pattern[top:top + size, left:left + size] * rng.uniform(0.6, 1.2)
    noisy = crop + rng.normal(0.0, NOISE, crop.shape)
    return (np.clip(noisy, 0, 1) * 255).round().astype(np.uint8)


def write(root: Path, classes: int, per_class: int, size: int, seed: int) -> int:
    rng = np.random.default_rng(seed)
    patterns = class_patterns(classes, size, rng)
    for label, pattern in enumerate(patterns):
        folder = root / f"class{label:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            Image.fromarray(image_of(pattern, size, rng)).save(folder / f"{index:05d}.png")
    return classes * per_class


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--per-class", type=int, default=2500)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.perf_counter()
    images = write(args.root, args.classes, args.per_class, args.size, args.seed)
    print(json.dumps({"benchmark": "synthetic_images", "root": str(args.root), "images": images,
                      "classes": args.classes, "size": args.size, "wall_s": round(time.perf_counter() - started, 2)}))


if __name__ == "__main__":
    main()

"""Data sets as uint8 tensors that live on the training device (no DataLoader, no workers).

`digits` is embedded (scikit-learn's bundled handwritten digits, brought to 32x32 RGB)
and needs no files. The others are read from torchvision's on-disk formats under a data
root; nothing is downloaded unless `download=True`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .errors import ConfigError, DataError

CIFAR_VALIDATION = slice(45_000, 50_000)  # the reference code's held-out validation images
VALIDATION_SHARE = 0.2  # of data sets without a split of their own
FINE_TUNE_SIZE = 224


@dataclass(frozen=True)
class Split:
    images: torch.Tensor  # uint8 (N, 3, H, W)
    labels: torch.Tensor  # int64 (N,)

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))

    def channel_stats(self, sample: int = 2000) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and standard deviation in [0, 1] units, from the first images."""
        pixels = self.images[:sample].float() / 255
        return pixels.mean(dim=(0, 2, 3)), pixels.std(dim=(0, 2, 3)).clamp_min(1e-3)


@dataclass(frozen=True)
class Dataset:
    name: str
    train: Split
    val: Split
    num_classes: int

    def to(self, device: torch.device | str) -> "Dataset":
        return Dataset(self.name, self.train.to(device), self.val.to(device), self.num_classes)


def _split(images: np.ndarray, labels, channels_last: bool = True) -> Split:
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if channels_last:
        tensor = tensor.permute(0, 3, 1, 2)
    return Split(tensor.contiguous(), torch.as_tensor(np.asarray(labels), dtype=torch.int64))


def digits() -> Dataset:
    """scikit-learn's 1,797 8x8 digits, upsampled to 32x32 RGB; a fixed 80/20 split."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    small = torch.from_numpy(bunch.images).float().unsqueeze(1) / 16.0
    large = F.interpolate(small, size=(32, 32), mode="bilinear", align_corners=False)
    images = (large.clamp(0, 1) * 255).round().to(torch.uint8).expand(-1, 3, -1, -1).contiguous()
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    return _fixed_split("digits", Split(images, labels), 10)


def _root(data_root: str | Path | None, name: str) -> Path:
    if data_root is None:
        raise DataError(f"{name} needs a data root (--data-root DIR); pass --download to fetch it there")
    return Path(data_root).expanduser()


def _missing(name: str, root: Path, looked_for: str, error: Exception) -> DataError:
    return DataError(f"{name} not found under {root} (looked for {looked_for}: {error}); "
                     f"put torchvision's files there or pass --download")


def cifar(classes: int, data_root, download: bool = False, validation: bool = True) -> Dataset:
    """CIFAR-10/100. validation=True: train 0..44,999, validate on 45,000..49,999 (the search
    split); False: the full training set, validated on the test set (final evaluation)."""
    from torchvision.datasets import CIFAR10, CIFAR100

    cls, folder = (CIFAR10, "cifar-10-batches-py") if classes == 10 else (CIFAR100, "cifar-100-python")
    name = f"cifar{classes}"
    root = _root(data_root, name)
    try:
        train = cls(str(root), train=True, download=download)
        test = None if validation else cls(str(root), train=False, download=download)
    except RuntimeError as error:
        raise _missing(name, root, root / folder, error) from None
    full = _split(train.data, train.targets)
    if validation:
        keep = torch.ones(len(full), dtype=torch.bool)
        keep[CIFAR_VALIDATION] = False
        return Dataset(name, Split(full.images[keep], full.labels[keep]),
                       Split(full.images[~keep], full.labels[~keep]), classes)
    return Dataset(name, full, _split(test.data, test.targets), classes)


def _resized(dataset, size: int) -> Split:
    """Every image of a torchvision dataset, resized (short side) and centre-cropped to size."""
    from torchvision.transforms import v2

    transform = v2.Compose([v2.PILToTensor(), v2.Resize(size, antialias=True), v2.CenterCrop(size)])
    images, labels = [], []
    for image, label in dataset:
        images.append(transform(image.convert("RGB")))
        labels.append(label)
    if not images:
        raise DataError(f"{type(dataset).__name__} under {dataset.root} has no images")
    return Split(torch.stack(images), torch.as_tensor(labels, dtype=torch.int64))


def fine_tune(name: str, data_root, download: bool = False, size: int = FINE_TUNE_SIZE) -> Dataset:
    """Stanford Cars, Flowers-102 or Caltech-101 (fixed 80/20 split), resized to size x size."""
    from torchvision import datasets

    root = _root(data_root, name)
    try:
        if name == "cars":
            train = datasets.StanfordCars(str(root), split="train", download=download)
            test = datasets.StanfordCars(str(root), split="test", download=download)
            return Dataset(name, _resized(train, size), _resized(test, size), 196)
        if name == "flowers102":
            train = datasets.Flowers102(str(root), split="train", download=download)
            test = datasets.Flowers102(str(root), split="test", download=download)
            return Dataset(name, _resized(train, size), _resized(test, size), 102)
        whole = _resized(datasets.Caltech101(str(root), target_type="category", download=download), size)
    except (RuntimeError, FileNotFoundError) as error:
        raise _missing(name, root, root / name, error) from None
    return _fixed_split(name, whole, 101)


def image_folder(data_root, size: int = 32) -> Dataset:
    """The user's own images: one folder per class under data_root (torchvision's ImageFolder),
    resized and centre-cropped to size x size, split 80/20 once and for all."""
    from torchvision.datasets import ImageFolder

    root = _root(data_root, "imagefolder")
    try:
        folder = ImageFolder(str(root))
    except (FileNotFoundError, RuntimeError) as error:
        raise DataError(f"no class folders of images under {root}: {error}") from None
    return _fixed_split("imagefolder", _resized(folder, size), len(folder.classes))


def _fixed_split(name: str, whole: Split, classes: int) -> Dataset:
    """A seeded 80/20 train/validation split of a data set that comes as one piece."""
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(whole)))
    cut = int(round(len(order) * (1 - VALIDATION_SHARE)))
    train, val = order[:cut], order[cut:]
    return Dataset(name, Split(whole.images[train], whole.labels[train]),
                   Split(whole.images[val], whole.labels[val]), classes)


NAMES = ("digits", "cifar10", "cifar100", "cars", "flowers102", "caltech101", "imagefolder")


@lru_cache(maxsize=4)
def load(name: str, data_root: str | None = None, download: bool = False, validation: bool = True) -> Dataset:
    """A data set by name (cached per process; CPU tensors: move them with `.to(device)`)."""
    if name == "digits":
        return digits()
    if name in ("cifar10", "cifar100"):
        return cifar(int(name[5:]), data_root, download, validation)
    if name in ("cars", "flowers102", "caltech101"):
        return fine_tune(name, data_root, download)
    if name == "imagefolder":
        return image_folder(data_root)
    raise ConfigError(f"unknown data set {name!r} (known: {', '.join(NAMES)})")

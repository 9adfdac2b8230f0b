"""The five augmentation techniques, applied to whole batches on the training device.

Each technique is a pipeline of small callables in the torchvision v2 style (RandomCropFlip,
RandAugment, Cutout, MixUp), each `(images, targets, generator) -> (images, targets)`.
Every image gets its own random draw (crop offset, flip, cutout position, RandAugment
operations and signs, mixup weight and partner). torchvision's v2 functional ops do
the pixel work; they take one parameter per call, so images that drew the same
operation and sign are transformed together.

`build(name, num_classes, params)(images, targets) -> (images, targets)`, params a presets.Augmentation:
images uint8 or float in [0, 1], (B, C, H, W); targets (B,) class indices or (B, C)
probabilities; the output images are float in [0, 1]. The targets come back as they came
unless the technique mixes labels (mixup, all): then as (B, C) probabilities.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF

from .errors import ConfigError
from .presets import REFERENCE_SIZE, Augmentation


def _shear(images: torch.Tensor, magnitude: float, x: bool) -> torch.Tensor:
    angle = math.degrees(math.atan(magnitude))
    return TF.affine(images, angle=0.0, translate=[0, 0], scale=1.0, center=[0, 0],
                     shear=[angle, 0.0] if x else [0.0, angle])


def _translate(images: torch.Tensor, magnitude: float, x: bool) -> torch.Tensor:
    offset = [int(magnitude), 0] if x else [0, int(magnitude)]
    return TF.affine(images, angle=0.0, translate=offset, scale=1.0, shear=[0.0, 0.0])


class RandAugOp(NamedTuple):
    """One RandAugment operation: its magnitude at m (0..30) for an image of width w (None: it takes
    none), whether that magnitude gets a random sign, and the operation on a uint8 batch."""

    magnitude: Callable[[int, int], float] | None
    signed: bool
    apply: Callable[[torch.Tensor, float], torch.Tensor]


# RandAugment (Cubuk et al. 2020), magnitudes as in the paper at m of 30.
RANDAUG_OPS: dict[str, RandAugOp] = {
    "identity": RandAugOp(None, False, lambda images, _: images),
    "shear_x": RandAugOp(lambda m, w: 0.3 * m / 30, True, lambda images, v: _shear(images, v, x=True)),
    "shear_y": RandAugOp(lambda m, w: 0.3 * m / 30, True, lambda images, v: _shear(images, v, x=False)),
    "translate_x": RandAugOp(lambda m, w: 150 / 331 * w * m / 30, True,
                             lambda images, v: _translate(images, v, x=True)),
    "translate_y": RandAugOp(lambda m, w: 150 / 331 * w * m / 30, True,
                             lambda images, v: _translate(images, v, x=False)),
    "rotate": RandAugOp(lambda m, w: 30.0 * m / 30, True, lambda images, v: TF.rotate(images, angle=v)),
    "brightness": RandAugOp(lambda m, w: 0.9 * m / 30, True, lambda images, v: TF.adjust_brightness(images, 1.0 + v)),
    "color": RandAugOp(lambda m, w: 0.9 * m / 30, True, lambda images, v: TF.adjust_saturation(images, 1.0 + v)),
    "contrast": RandAugOp(lambda m, w: 0.9 * m / 30, True, lambda images, v: TF.adjust_contrast(images, 1.0 + v)),
    "sharpness": RandAugOp(lambda m, w: 0.9 * m / 30, True, lambda images, v: TF.adjust_sharpness(images, 1.0 + v)),
    "posterize": RandAugOp(lambda m, w: float(round(8 - m / 7.5)), False,
                           lambda images, v: TF.posterize(images, bits=int(v))),
    "solarize": RandAugOp(lambda m, w: 1.0 - m / 30, False, lambda images, v: TF.solarize(images, threshold=255.0 * v)),
    "autocontrast": RandAugOp(None, False, lambda images, _: TF.autocontrast(images)),
    "equalize": RandAugOp(None, False, lambda images, _: TF.equalize(images)),
}


def _apply_randaug_op(images: torch.Tensor, name: str, magnitude: float) -> torch.Tensor:
    """One RandAugment operation on a uint8 batch, with one magnitude for all of it."""
    return RANDAUG_OPS[name].apply(images, magnitude)


def _scaled(pixels: int, size: int) -> int:
    return max(1, round(pixels * size / REFERENCE_SIZE)) if pixels else 0


def _as_uint8(images: torch.Tensor) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def _as_float(images: torch.Tensor) -> torch.Tensor:
    return images.float() / 255 if images.dtype == torch.uint8 else images.float()


def one_hot(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    if targets.dim() == 2:
        return targets.float()
    return F.one_hot(targets.long(), num_classes).float()


def crop_and_flip(images: torch.Tensor, pad: int, flip: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Zero-pad, crop back at a random offset per image, flip half the images (per image)."""
    batch, _, height, width = images.shape
    device = images.device
    if pad:
        padded = F.pad(images, (pad, pad, pad, pad))
        top = torch.randint(0, 2 * pad + 1, (batch,), device=device, generator=generator)
        left = torch.randint(0, 2 * pad + 1, (batch,), device=device, generator=generator)
        rows = (top[:, None] + torch.arange(height, device=device))[:, None, :, None]
        cols = (left[:, None] + torch.arange(width, device=device))[:, None, None, :]
        channels = torch.arange(images.shape[1], device=device)[None, :, None, None]
        images = padded[torch.arange(batch, device=device)[:, None, None, None], channels, rows, cols]
    if flip:
        mirrored = torch.rand(batch, device=device, generator=generator) < 0.5
        images = torch.where(mirrored[:, None, None, None], images.flip(-1), images)
    return images


def cutout(images: torch.Tensor, size: int, generator: torch.Generator | None) -> torch.Tensor:
    """Zero one size x size square per image, centred anywhere (clipped at the borders)."""
    batch, _, height, width = images.shape
    device = images.device
    cy = torch.randint(0, height, (batch, 1, 1), device=device, generator=generator)
    cx = torch.randint(0, width, (batch, 1, 1), device=device, generator=generator)
    ys = torch.arange(height, device=device)[None, :, None]
    xs = torch.arange(width, device=device)[None, None, :]
    low = size // 2
    inside = (ys >= cy - low) & (ys < cy - low + size) & (xs >= cx - low) & (xs < cx - low + size)
    return images.masked_fill(inside[:, None], 0)


def randaugment(images: torch.Tensor, n: int, m: int, generator: torch.Generator | None) -> torch.Tensor:
    """RandAugment with each image's own operations and signs (uint8 in and out)."""
    images = images.clone()
    names = list(RANDAUG_OPS)
    width = images.shape[-1]
    device = images.device
    for _ in range(n):
        chosen = torch.randint(0, len(names), (len(images),), device=device, generator=generator)
        negative = torch.rand(len(images), device=device, generator=generator) < 0.5
        for index in chosen.unique().tolist():
            op = RANDAUG_OPS[names[index]]
            magnitude = op.magnitude(m, width) if op.magnitude else 0.0
            drew = chosen == index
            groups = ([(drew & ~negative, magnitude), (drew & negative, -magnitude)] if op.signed
                      else [(drew, magnitude)])
            for picked, value in groups:
                if picked.any():
                    images[picked] = _apply_randaug_op(images[picked], names[index], value)
    return images


def mixup(images: torch.Tensor, soft: torch.Tensor, alpha: float, generator: torch.Generator | None):
    """Each image mixed with a random partner by its own weight lambda ~ Beta(alpha, alpha)."""
    batch = len(images)
    device = images.device
    seed = int(torch.randint(0, 2**62, (1,), device=device, generator=generator))
    lam = torch.from_numpy(np.random.default_rng(seed).beta(alpha, alpha, batch)).float().to(device)
    partner = torch.randperm(batch, device=device, generator=generator)
    weights = lam[:, None, None, None]
    mixed = images * weights + images[partner] * (1 - weights)
    return mixed, soft * lam[:, None] + soft[partner] * (1 - lam[:, None])


Transform = Callable[[torch.Tensor, torch.Tensor, torch.Generator | None], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class RandomCropFlip:
    pad: int  # px at 32x32
    flip: bool

    def __call__(self, images, targets, generator):
        return crop_and_flip(images, _scaled(self.pad, images.shape[-1]), self.flip, generator), targets


@dataclass(frozen=True)
class RandAugment:
    n: int
    m: int

    def __call__(self, images, targets, generator):
        return randaugment(_as_uint8(images), self.n, self.m, generator), targets


@dataclass(frozen=True)
class Cutout:
    size: int  # px at 32x32

    def __call__(self, images, targets, generator):
        return cutout(images, _scaled(self.size, images.shape[-1]), generator), targets


@dataclass(frozen=True)
class MixUp:
    """Mixes images and their labels: the targets must be (B, C) probabilities."""

    alpha: float

    def __call__(self, images, soft, generator):
        return mixup(_as_float(images), soft, self.alpha, generator)


TRANSFORMS: dict[str, Callable[[Augmentation, bool], Transform]] = {  # (parameters, flip) -> the transform
    "crop_flip": lambda p, flip: RandomCropFlip(p.pad, flip),
    "randaug": lambda p, flip: RandAugment(p.randaug_n, p.randaug_m),
    "cutout": lambda p, flip: Cutout(p.cutout_size),
    "mixup": lambda p, flip: MixUp(p.mixup_alpha),
}
PIPELINES = {  # each technique's transforms, in order
    "base": ("crop_flip",),
    "cutout": ("crop_flip", "cutout"),
    "mixup": ("crop_flip", "mixup"),
    "randaug": ("crop_flip", "randaug"),
    "all": ("crop_flip", "randaug", "cutout", "mixup"),
}
TECHNIQUES = tuple(PIPELINES)


@dataclass(frozen=True)
class Augment:
    """One technique: its transforms in order on a batch; the images end as float, the targets as
    they came unless the technique mixes labels (then as probabilities)."""

    name: str
    num_classes: int
    transforms: tuple[Transform, ...]

    @property
    def mixes_labels(self) -> bool:
        return any(isinstance(transform, MixUp) for transform in self.transforms)

    def __call__(self, images: torch.Tensor, targets: torch.Tensor,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        targets = (one_hot(targets, self.num_classes) if self.mixes_labels else targets).to(images.device)
        for transform in self.transforms:
            images, targets = transform(images, targets, generator)
        return _as_float(images), targets


def build(name: str, num_classes: int, params: Augmentation = Augmentation(), flip: bool = True) -> Augment:
    """The technique `name` with its parameters (a TrainPreset is one: its augmentation's)."""
    if name not in PIPELINES:
        raise ConfigError(f"unknown augmentation technique {name!r} (known: {', '.join(TECHNIQUES)})")
    return Augment(name, num_classes, tuple(TRANSFORMS[step](params, flip) for step in PIPELINES[name]))

"""Models by name: `build(name, num_classes, **options)`."""
from __future__ import annotations

import inspect

from torch import nn

from ..errors import ConfigError

from . import packing
from .efficientnet import efficientnet_v2_s
from .resnet9v2 import ResNet9v2
from .small_cnn import SmallCNN
from .wide_resnet import WideResNet

BUILDERS = {
    "resnet9v2": ResNet9v2,
    "wrn28_10": lambda num_classes: WideResNet(depth=28, width=10, num_classes=num_classes),
    "efficientnet_v2_s": efficientnet_v2_s,
    "small_cnn": SmallCNN,
    "small_cnn_wide": lambda num_classes: SmallCNN(num_classes=num_classes, width=32),
}
NAMES = tuple(BUILDERS)
PACKABLE = ("resnet9v2", "wrn28_10", "small_cnn", "small_cnn_wide")  # their layers keep members apart


def build(name: str, num_classes: int, **options) -> nn.Module:
    """The model `name` for `num_classes` classes (options: weights=PATH for efficientnet_v2_s)."""
    if name not in BUILDERS:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(NAMES)})")
    accepted = inspect.signature(BUILDERS[name]).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"model {name} takes no option(s) {', '.join(unknown)}")
    return BUILDERS[name](num_classes=num_classes, **options)


def build_packed(name: str, num_classes: int, members: int, **options) -> nn.Module:
    """`members` copies of the model `name` (all from the same initial weights) as one packed
    model; one member is the plain model."""
    if members == 1:
        return build(name, num_classes, **options)
    if name not in PACKABLE:
        raise ConfigError(f"model {name} cannot be packed (packable: {', '.join(PACKABLE)}); "
                          f"use --executor local or ray")
    return packing.pack(build(name, num_classes, **options), members)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

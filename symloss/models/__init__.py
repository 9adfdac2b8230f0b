"""Models by name: `build(name, num_classes, **options)`."""
from __future__ import annotations

import inspect

from torch import nn

from ..errors import ConfigError

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


def build(name: str, num_classes: int, **options) -> nn.Module:
    """The model `name` for `num_classes` classes (options: weights=PATH for efficientnet_v2_s)."""
    if name not in BUILDERS:
        raise ConfigError(f"unknown model {name!r} (known: {', '.join(NAMES)})")
    accepted = inspect.signature(BUILDERS[name]).parameters
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(f"model {name} takes no option(s) {', '.join(unknown)}")
    return BUILDERS[name](num_classes=num_classes, **options)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

"""ResNet9v2: the pre-activation ResNet-9 surrogate (about 6.57M parameters at 10 classes)."""
from __future__ import annotations

from torch import nn


def preact_conv(channels_in: int, channels_out: int) -> nn.Sequential:
    """BN -> ReLU -> 3x3 conv (pre-activation order)."""
    return nn.Sequential(nn.BatchNorm2d(channels_in), nn.ReLU(inplace=True),
                         nn.Conv2d(channels_in, channels_out, 3, padding=1, bias=False))


class Residual(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(preact_conv(channels, channels), preact_conv(channels, channels))

    def forward(self, x):
        return x + self.body(x)


class ResNet9v2(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, padding=1, bias=False),
            preact_conv(64, 128), nn.MaxPool2d(2), Residual(128),
            preact_conv(128, 256), nn.MaxPool2d(2),
            preact_conv(256, 512), nn.MaxPool2d(2), Residual(512),
            nn.BatchNorm2d(512), nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(512, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))

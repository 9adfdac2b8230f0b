"""WideResNet (Zagoruyko & Komodakis 2016): WRN-28-10 has about 36.5M parameters."""
from __future__ import annotations

import torch.nn.functional as F
from torch import nn


class WideBlock(nn.Module):
    """Pre-activation basic block; a 1x1 shortcut where the shape changes."""

    def __init__(self, channels_in: int, channels_out: int, stride: int, dropout: float):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(channels_in)
        self.conv1 = nn.Conv2d(channels_in, channels_out, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels_out)
        self.conv2 = nn.Conv2d(channels_out, channels_out, 3, padding=1, bias=False)
        self.dropout = dropout
        self.shortcut = (None if channels_in == channels_out and stride == 1
                         else nn.Conv2d(channels_in, channels_out, 1, stride=stride, bias=False))

    def forward(self, x):
        activated = F.relu(self.bn1(x))
        shortcut = x if self.shortcut is None else self.shortcut(activated)
        out = self.conv1(activated)
        out = F.relu(self.bn2(out))
        if self.dropout:
            out = F.dropout(out, self.dropout, self.training)
        return shortcut + self.conv2(out)


class WideResNet(nn.Module):
    def __init__(self, depth: int = 28, width: int = 10, num_classes: int = 10, dropout: float = 0.0):
        super().__init__()
        if (depth - 4) % 6:
            raise ValueError(f"WideResNet depth must be 6n + 4, got {depth}")
        blocks = (depth - 4) // 6
        widths = [16, 16 * width, 32 * width, 64 * width]
        layers = [nn.Conv2d(3, widths[0], 3, padding=1, bias=False)]
        for stage in range(3):
            for index in range(blocks):
                channels_in = widths[stage] if index == 0 else widths[stage + 1]
                stride = 2 if stage > 0 and index == 0 else 1
                layers.append(WideBlock(channels_in, widths[stage + 1], stride, dropout))
        layers += [nn.BatchNorm2d(widths[3]), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(widths[3], num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.classifier(self.features(x))

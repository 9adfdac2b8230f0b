"""EfficientNetV2-S from torchvision; ImageNet weights only from a local file the user names."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torchvision.models import efficientnet_v2_s as torchvision_efficientnet_v2_s

from ..errors import DataError

IMAGENET_CLASSES = 1000


def efficientnet_v2_s(num_classes: int, weights: str | Path | None = None) -> nn.Module:
    """EfficientNetV2-S; with `weights` (a state_dict file of torchvision's ImageNet model)
    the backbone starts from them and the classifier is replaced for `num_classes`."""
    model = torchvision_efficientnet_v2_s(weights=None, num_classes=IMAGENET_CLASSES)
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise DataError(f"weights file {path} not found (symloss never downloads weights: "
                            f"save torchvision's EfficientNet_V2_S_Weights state_dict there)")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        except (RuntimeError, OSError, ValueError, KeyError) as error:
            raise DataError(f"cannot load EfficientNetV2-S weights from {path}: {error}") from None
    if num_classes != IMAGENET_CLASSES:
        head = model.classifier[-1]
        model.classifier[-1] = nn.Linear(head.in_features, num_classes)
    return model

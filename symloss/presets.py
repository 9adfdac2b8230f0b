"""Named training configurations: plain data, no code paths (PROTOCOL.md gives the numbers)."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import ConfigError


@dataclass(frozen=True)
class TrainPreset:
    """How to train one loss: data, model, optimiser, one-cycle schedule, stopping rules."""

    name: str
    dataset: str  # a name of symloss.data
    model: str  # a name of symloss.models
    optimizer: str  # "adam" or "sgd" (SGD with Nesterov momentum)
    peak_lr: float
    warmup_steps: int  # linear 0 -> peak_lr, then cosine to 0 at `steps`
    steps: int
    batch_size: int
    eval_every: int  # steps between validations (and at the end)
    weight_decay: float = 0.0
    momentum: float = 0.9
    validation: bool = True  # True: held-out validation split; False: the test set
    early_stop_step: int | None = None  # at this step, stop if the training accuracy ...
    early_stop_accuracy: float = 0.0  # ... of the steps since the last validation is below this
    weights: str | None = None  # a local weights file for pretrained models
    compile: bool = False  # torch.compile the model on CUDA


PRESETS: dict[str, TrainPreset] = {p.name: p for p in (
    TrainPreset("paper-surrogate", "cifar10", "resnet9v2", "adam", 1e-3, 1_000, 20_000, 128, 500,
                early_stop_step=3_000, early_stop_accuracy=0.35),
    TrainPreset("paper-surrogate-long", "cifar10", "resnet9v2", "adam", 1e-3, 1_000, 96_000, 128, 500,
                early_stop_step=3_000, early_stop_accuracy=0.35),
    TrainPreset("paper-wrn", "cifar10", "wrn28_10", "sgd", 0.1, 1_000, 117_300, 128, 391,
                weight_decay=5e-4, validation=False),
    TrainPreset("paper-effnet", "cars", "efficientnet_v2_s", "sgd", 0.1, 1_000, 10_000, 64, 500,
                validation=False),
    TrainPreset("demo", "digits", "small_cnn", "adam", 1e-2, 20, 300, 64, 50,
                early_stop_step=100, early_stop_accuracy=0.35),
)}


def get(name: str) -> TrainPreset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]


def with_overrides(preset: TrainPreset, **overrides) -> TrainPreset:
    """The preset with some fields replaced; an unknown field is a ConfigError."""
    known = {f.name for f in fields(TrainPreset)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown training option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return replace(preset, **overrides)

"""Named training configurations: plain data, no code paths (PROTOCOL.md gives the numbers)."""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Callable

from .errors import ConfigError

PRECISIONS = ("auto", "bf16", "fp32")  # auto: bf16 autocast on CUDA, float32 on the CPU
REFERENCE_SIZE = 32  # sizes in pixels are given at 32x32 and scaled with the image


def _integer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


CHECKS: dict[str, tuple[Callable[[object], bool], str]] = {  # an option's test and what it must be
    "pad": (lambda v: _integer(v) and 0 <= v <= REFERENCE_SIZE,
            f"an integer from 0 to {REFERENCE_SIZE} (px at 32x32)"),
    "cutout_size": (lambda v: _integer(v) and 1 <= v <= REFERENCE_SIZE,
                    f"an integer from 1 to {REFERENCE_SIZE} (px at 32x32)"),
    "mixup_alpha": (lambda v: _number(v) and v > 0, "a number above 0"),
    "randaug_n": (lambda v: _integer(v) and v >= 0, "an integer from 0 up"),
    "randaug_m": (lambda v: _integer(v) and 0 <= v <= 30, "an integer from 0 to 30"),
    "label_smoothing": (lambda v: _number(v) and 0 <= v < 1, "a number in [0, 1)"),
    "precision": (lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
}


def check_option(name: str, value) -> None:
    """A ConfigError when `value` is not one the option `name` takes (options without a check take any)."""
    if name in CHECKS and not CHECKS[name][0](value):
        raise ConfigError(f"{name} must be {CHECKS[name][1]}, not {value!r:.40}")


def _check_fields(options) -> None:
    for option in fields(options):
        check_option(option.name, getattr(options, option.name))


@dataclass(frozen=True, kw_only=True)
class Augmentation:
    """The augmentation parameters the paper leaves unstated (PROTOCOL.md), symloss's defaults;
    sizes are px at 32x32, scaled with the image (8x8 digits: pad 1, cutout 4)."""

    pad: int = 4  # zero padding before the random crop
    cutout_size: int = 16  # side of the zeroed square
    mixup_alpha: float = 1.0  # mixup weights ~ Beta(alpha, alpha)
    randaug_n: int = 2  # RandAugment operations per image
    randaug_m: int = 9  # RandAugment magnitude, 0..30

    def __post_init__(self) -> None:
        _check_fields(self)


@dataclass(frozen=True)
class TrainPreset(Augmentation):
    """How to train one loss: data, model, optimiser, one-cycle schedule, stopping rules, and the
    augmentation's parameters (keyword fields, from Augmentation)."""

    name: str
    dataset: str  # a name of symloss.data
    model: str  # a name of symloss.models
    optimizer: str  # "adam" or "sgd" (SGD with Nesterov momentum)
    peak_lr: float
    warmup_steps: int  # linear 0 -> peak_lr, then cosine to 0 at `steps`
    steps: int
    batch_size: int
    eval_every: int  # steps between validations (and at the end): an epoch
    weight_decay: float = 0.0
    momentum: float = 0.9
    validation: bool = True  # True: held-out validation split; False: the test set
    early_stop_step: int | None = None  # from this step on, at each validation, a run whose training accuracy ...
    early_stop_accuracy: float = 0.0  # ... over the epoch is below this stops (fitness 0 if it never reached it)
    label_smoothing: float = 0.0  # of the training targets (0: a loss's own, e.g. the zoo's ce_ls)
    weights: str | None = None  # a local weights file for pretrained models
    compile: bool = False  # torch.compile the training forward pass on CUDA (once per pack size)
    precision: str = "auto"  # one of PRECISIONS (fp32 on CUDA: cuDNN may still use TF32, torch's default)

    def autocast(self, device: str) -> bool:
        """Whether training on this device type runs the model under bf16 autocast."""
        return self.precision == "bf16" or (self.precision == "auto" and device == "cuda")


# a run's options that its trainings on other presets keep: the techniques' parameters, label
# smoothing and precision (not its preset's shape, such as its steps)
CARRIED_OPTIONS = (*(f.name for f in fields(Augmentation)), "label_smoothing", "precision")

# the paper's surrogate stops from the end of its 7th epoch of 500 steps on (reference code: EpochCallback(epoch=6))
PAPER_EARLY_STOP = dict(early_stop_step=7 * 500, early_stop_accuracy=0.35)
# scaled down to the demos' few epochs; 0.15, not 0.35: native CE under `all` has a training accuracy of
# 0.22-0.24 at step 100 on the digits (measured, seeds 0-2; chance is 0.10)
DEMO_EARLY_STOP = dict(early_stop_step=100, early_stop_accuracy=0.15)
PRESETS: dict[str, TrainPreset] = {p.name: p for p in (
    TrainPreset("paper-surrogate", "cifar10", "resnet9v2", "adam", 1e-3, 1_000, 20_000, 128, 500, **PAPER_EARLY_STOP),
    TrainPreset("paper-surrogate-long", "cifar10", "resnet9v2", "adam", 1e-3, 1_000, 96_000, 128, 500,
                **PAPER_EARLY_STOP),
    TrainPreset("paper-wrn", "cifar10", "wrn28_10", "sgd", 0.1, 1_000, 117_300, 128, 391,
                weight_decay=5e-4, validation=False),
    TrainPreset("paper-effnet", "cars", "efficientnet_v2_s", "sgd", 0.1, 1_000, 10_000, 64, 500,
                validation=False),
    TrainPreset("demo", "digits", "small_cnn", "adam", 1e-2, 20, 300, 64, 50, **DEMO_EARLY_STOP),
    TrainPreset("demo-long", "digits", "small_cnn", "adam", 1e-2, 20, 600, 64, 100, **DEMO_EARLY_STOP),
    TrainPreset("demo-large", "digits", "small_cnn_wide", "sgd", 0.05, 20, 300, 64, 50, weight_decay=5e-4),
)}


@dataclass(frozen=True)
class SearchPreset:
    """A regularized-evolution run: its training preset and the algorithm's sizes."""

    name: str
    train: str  # a TrainPreset name
    initial: int
    population: int
    tournament: int
    iterations: int


SEARCH_PRESETS: dict[str, SearchPreset] = {p.name: p for p in (
    SearchPreset("paper", "paper-surrogate", 1_000, 100, 20, 2_000),
    SearchPreset("demo", "demo", 32, 8, 4, 48),
)}


def get(name: str) -> TrainPreset:
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r} (known: {', '.join(PRESETS)})")
    return PRESETS[name]


def search(name: str) -> SearchPreset:
    if name not in SEARCH_PRESETS:
        raise ConfigError(f"unknown search preset {name!r} (known: {', '.join(SEARCH_PRESETS)})")
    return SEARCH_PRESETS[name]


def check_overrides(overrides: dict) -> None:
    """A ConfigError naming the first unknown training option or bad value of `overrides`."""
    known = {f.name for f in fields(TrainPreset)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown training option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    for name, value in overrides.items():
        check_option(name, value)


def with_overrides(preset: TrainPreset, **overrides) -> TrainPreset:
    """The preset with some fields replaced; an unknown field or a bad value is a ConfigError."""
    check_overrides(overrides)
    return replace(preset, **overrides)

"""Named training configurations: plain data, no code paths (PROTOCOL.md gives the numbers)."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from .errors import ConfigError

PRECISIONS = ("auto", "bf16", "fp32")  # auto: bf16 autocast on CUDA, float32 on the CPU


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
    compile: bool = False  # torch.compile the training forward pass on CUDA (once per pack size)
    precision: str = "auto"  # one of PRECISIONS (fp32 on CUDA: cuDNN may still use TF32, torch's default)

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {self.precision!r} (known: {', '.join(PRECISIONS)})")

    def autocast(self, device: str) -> bool:
        """Whether training on this device type runs the model under bf16 autocast."""
        return self.precision == "bf16" or (self.precision == "auto" and device == "cuda")


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
    TrainPreset("demo-long", "digits", "small_cnn", "adam", 1e-2, 20, 600, 64, 100,
                early_stop_step=100, early_stop_accuracy=0.35),
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


def with_overrides(preset: TrainPreset, **overrides) -> TrainPreset:
    """The preset with some fields replaced; an unknown field is a ConfigError."""
    known = {f.name for f in fields(TrainPreset)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown training option(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return replace(preset, **overrides)

"""The trainer: a loss, a preset and an augmentation technique in; an Evaluation out.

The data live on the training device as uint8; each step draws a batch, augments it on
the device (per-image randomness from one seeded generator), and takes one optimiser
step under a one-cycle schedule. On CUDA: bf16 autocast, channels_last, optional
torch.compile. A loss that produces a non-finite value or gradient ends its run with
status `diverged` and fitness 0; nothing a bad loss does raises out of `evaluate`.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from . import augment as augment_module
from . import data, models, presets, zoo
from .errors import ConfigError, DataError
from .genome import Genome
from .loss import Loss
from .presets import TrainPreset

CHECK_EVERY = 25  # steps between reads of the on-device divergence flag (a host sync)
EVAL_BATCH = 1000

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int, dict], None]  # (step, total steps, latest validation row)


@dataclass
class Evaluation:
    """The outcome of one training run; fitness is the best validation accuracy.

    status: "ok", "early_stopped" (fitness: the best reached), "diverged" or "failed" (fitness 0).
    """

    fitness: float
    status: str
    reason: str | None
    steps: int
    wall_s: float
    best_val_loss: float | None = None
    final_val_loss: float | None = None
    final_val_accuracy: float | None = None
    history: list[dict] = field(default_factory=list)  # one row per validation

    def to_dict(self) -> dict:
        return asdict(self)


def one_cycle(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear 0 -> 1 over the warm-up, then cosine 1 -> 0 at the end."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


def criterion_for(loss: Loss | Genome | str) -> Criterion:
    """"ce" is torch's native cross-entropy; other strings are zoo names or expressions."""
    if isinstance(loss, str) and loss == "ce":
        return lambda logits, y: F.cross_entropy(logits.float(), y)
    if isinstance(loss, Genome):
        loss = Loss.from_genome(loss)
    elif isinstance(loss, str):
        loss = zoo.get(loss) if loss in zoo.ZOO else Loss.parse(loss)
    return loss.module()


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _optimizer(model: nn.Module, config: TrainPreset) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.peak_lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.peak_lr, momentum=config.momentum,
                               nesterov=True, weight_decay=config.weight_decay)
    raise ConfigError(f"unknown optimizer {config.optimizer!r} (adam or sgd)")


class _Run:
    """One training run's state; `train` returns its Evaluation."""

    def __init__(self, criterion: Criterion, config: TrainPreset, technique: augment_module.Augment,
                 dataset: data.Dataset, seed: int, device: torch.device, progress: Progress | None):
        self.criterion, self.config, self.technique = criterion, config, technique
        self.device, self.progress = device, progress
        self.cuda = device.type == "cuda"
        torch.manual_seed(seed)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.train_set = dataset.train.to(device)
        self.val_set = dataset.val.to(device)
        mean, std = dataset.train.channel_stats()
        self.mean, self.std = mean.to(device)[None, :, None, None], std.to(device)[None, :, None, None]
        model = models.build(config.model, dataset.num_classes,
                             **({"weights": config.weights} if config.weights else {})).to(device)
        if self.cuda:
            model = model.to(memory_format=torch.channels_last)
        self.model = model
        self.forward = torch.compile(model) if (config.compile and self.cuda) else model
        self.optimizer = _optimizer(model, config)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimizer, one_cycle(config.warmup_steps, config.steps))
        self.history: list[dict] = []

    def _prepare(self, images: torch.Tensor) -> torch.Tensor:
        images = (images - self.mean) / self.std
        return images.contiguous(memory_format=torch.channels_last) if self.cuda else images

    def _logits(self, images: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cuda):
            return self.forward(self._prepare(images)).float()

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        """(accuracy, mean loss) on the validation split."""
        self.model.eval()
        correct, total_loss = 0, 0.0
        for start in range(0, len(self.val_set), EVAL_BATCH):
            images = self.val_set.images[start:start + EVAL_BATCH].float() / 255
            labels = self.val_set.labels[start:start + EVAL_BATCH]
            logits = self._logits(images)
            correct += int((logits.argmax(dim=1) == labels).sum())
            targets = F.one_hot(labels, logits.shape[1]).float()
            total_loss += float(self.criterion(logits, targets)) * len(labels)
        self.model.train()
        return correct / len(self.val_set), total_loss / len(self.val_set)

    def train(self) -> Evaluation:
        config, started = self.config, time.perf_counter()
        best_accuracy, best_loss, last = 0.0, math.inf, (0.0, math.nan)
        bad = torch.zeros((), dtype=torch.bool, device=self.device)
        correct = torch.zeros((), dtype=torch.int64, device=self.device)
        seen, step = 0, 0
        batches = len(self.train_set) // config.batch_size
        if batches == 0:
            raise DataError(f"{len(self.train_set)} training images: fewer than one batch of {config.batch_size}")

        def result(status: str, reason: str | None, fitness: float) -> Evaluation:
            return Evaluation(fitness, status, reason, step, time.perf_counter() - started,
                              None if math.isinf(best_loss) else best_loss, last[1], last[0], self.history)

        while step < config.steps:
            order = torch.randperm(len(self.train_set), device=self.device, generator=self.generator)
            for batch in range(batches):
                index = order[batch * config.batch_size:(batch + 1) * config.batch_size]
                images, targets = self.technique(self.train_set.images[index], self.train_set.labels[index],
                                                 self.generator)
                logits = self._logits(images)
                value = self.criterion(logits, targets)
                self.optimizer.zero_grad(set_to_none=True)
                value.backward()
                gradient_norm = torch.nn.utils.get_total_norm(
                    [p.grad for p in self.model.parameters() if p.grad is not None])
                bad |= ~(torch.isfinite(value) & torch.isfinite(gradient_norm))
                self.optimizer.step()
                self.schedule.step()
                correct += (logits.argmax(dim=1) == targets.argmax(dim=1)).sum()
                seen += len(index)
                step += 1
                validate_now = step % config.eval_every == 0 or step == config.steps
                if (step % CHECK_EVERY == 0 or validate_now) and bool(bad):
                    return result("diverged", f"non-finite loss or gradient by step {step}", 0.0)
                if validate_now:
                    last = self.validate()
                    best_accuracy, best_loss = max(best_accuracy, last[0]), min(best_loss, last[1])
                    train_accuracy = int(correct) / max(1, seen)
                    self.history.append({"step": step, "val_accuracy": last[0], "val_loss": last[1],
                                         "train_accuracy": train_accuracy})
                    correct.zero_()
                    seen = 0
                    if (config.early_stop_step is not None and step >= config.early_stop_step
                            and step - config.eval_every < config.early_stop_step
                            and train_accuracy < config.early_stop_accuracy):
                        return result("early_stopped", f"training accuracy {train_accuracy:.3f} < "
                                      f"{config.early_stop_accuracy} at step {step}", best_accuracy)
                if self.progress:
                    self.progress(step, config.steps, self.history[-1] if self.history else {})
                if step >= config.steps:
                    break
        return result("ok", None, best_accuracy)


def evaluate(loss: Loss | Genome | str, preset: str | TrainPreset = "demo", augment: str = "base",
             seed: int = 0, *, data_root: str | None = None, download: bool = False,
             device: str | torch.device | None = None, augment_params: dict | None = None,
             progress: Progress | None = None, **overrides) -> Evaluation:
    """Train with `loss` and return its Evaluation (fitness = best validation accuracy).

    Configuration problems (unknown preset, technique or option, missing data) raise;
    whatever the loss does in training (overflow, NaN, an exception in its torch code)
    comes back as an Evaluation with status `diverged` or `failed` and fitness 0.
    """
    config = presets.with_overrides(presets.get(preset) if isinstance(preset, str) else preset, **overrides)
    device = torch.device(device) if device is not None else default_device()
    dataset = data.load(config.dataset, None if data_root is None else str(data_root), download, config.validation)
    technique = augment_module.build(augment, dataset.num_classes, **(augment_params or {}))
    criterion = criterion_for(loss)
    run = _Run(criterion, config, technique, dataset, seed, device, progress)
    started = time.perf_counter()
    try:
        return run.train()
    except (RuntimeError, ArithmeticError, ValueError) as error:  # raised by the loss's own code
        if isinstance(error, DataError):
            raise
        return Evaluation(0.0, "failed", f"{type(error).__name__}: {error}", 0, time.perf_counter() - started)

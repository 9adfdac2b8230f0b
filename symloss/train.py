"""The trainer: a loss, a preset and an augmentation technique in; an Evaluation out.

The data live on the training device as uint8; each step draws a batch, augments it on
the device (per-image randomness from one seeded generator), and takes one optimiser
step under a one-cycle schedule. Channels-last everywhere; bf16 autocast on CUDA (and on the
CPU with precision="bf16"); optional torch.compile on CUDA. A loss that produces a non-finite
value or gradient ends its run with status `diverged` and fitness 0; nothing a bad loss does
raises out of `evaluate` (a failing device raises DeviceError). The loss gets class indices as
targets where the technique mixes no labels, probabilities where it does (mixup, all).
`evaluate_pack` trains several losses at once as one packed model (models.packing).
"""
from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from typing import Callable, Collection, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from . import augment as augment_module
from . import data, models, presets, references
from .errors import ConfigError, DataError, DeviceError
from .genome import Genome
from .loss import Loss
from .models import packing
from .presets import TrainPreset

CHECK_EVERY = 25  # steps between reads of the on-device divergence flag (a host sync)
EVAL_BATCH = 128  # validation images at once: the demo validated 2.2-2.8x faster than 360 at once on a CPU

Criterion = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Progress = Callable[[int, int, dict], None]  # (step, total steps, latest validation row)


@dataclass
class Evaluation:
    """The outcome of one training run; fitness is the best validation accuracy.

    status: "ok", "early_stopped" (fitness: the best reached, or 0 when the training accuracy never
    reached the preset's threshold: a failed evaluation), "diverged" or "failed" (fitness 0).
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

    @classmethod
    def failed(cls, error: BaseException, wall_s: float = 0.0) -> "Evaluation":
        """The outcome of a training that raised: fitness 0, the error as the reason."""
        return cls(0.0, "failed", f"{type(error).__name__}: {error}", 0, wall_s)


def one_cycle(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    """Learning-rate factor: linear 0 -> 1 over the warm-up, then cosine 1 -> 0 at the end."""
    def factor(step: int) -> float:
        if step < warmup_steps:
            return step / warmup_steps
        progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor


class NativeCrossEntropy(nn.Module):
    """torch's own cross-entropy on float32 logits: the baseline criterion. Not the zoo's "ce",
    which is the CE genome compiled by symloss."""

    name = "native_ce"

    def __init__(self, label_smoothing: float = 0.0):
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits.float(), targets, label_smoothing=self.label_smoothing)


NATIVE_CE = NativeCrossEntropy()


def criterion_for(loss: Loss | Genome | Criterion | str, label_smoothing: float = 0.0) -> Criterion:
    """What trains `loss`: a Loss's or Genome's module; a criterion (module or callable) as it is.
    Text is a LOSS reference (symloss.references), except "native_ce" and its old name "ce",
    which mean NATIVE_CE. A `label_smoothing` other than 0 replaces a loss's own (ce_ls: 0.1);
    a criterion other than native cross-entropy cannot take one (ConfigError).
    A criterion takes (logits, targets), targets class indices (B,) or probabilities (B, C)."""
    if isinstance(loss, str):
        loss = NATIVE_CE if loss in (NativeCrossEntropy.name, "ce") else references.resolve(loss)
    if isinstance(loss, Genome):
        loss = Loss.from_genome(loss)
    if isinstance(loss, Loss):
        return loss.module(label_smoothing or None)
    if not label_smoothing:
        return loss
    if isinstance(loss, NativeCrossEntropy):
        return NativeCrossEntropy(label_smoothing)
    raise ConfigError(f"label smoothing applies to a Loss, a Genome or native_ce, not to a criterion ({loss!r:.60})")


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _optimizer(model: nn.Module, config: TrainPreset) -> torch.optim.Optimizer:
    """The preset's optimiser, fused (one kernel for every parameter: Adam's step took 0.09 ms
    instead of 0.22 ms for a pack of two demo models on one CPU thread)."""
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.peak_lr, weight_decay=config.weight_decay, fused=True)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.peak_lr, momentum=config.momentum,
                               nesterov=True, weight_decay=config.weight_decay, fused=True)
    raise ConfigError(f"unknown optimizer {config.optimizer!r} (adam or sgd)")


LOSS_ERRORS = (RuntimeError, ArithmeticError, ValueError)  # what a loss's own torch code raises ...
DEVICE_ERRORS = (torch.OutOfMemoryError,) + tuple(  # ... except the device's, whoever's code raised them
    error for error in (getattr(torch, "AcceleratorError", None),) if error is not None)
NOT_THE_LOSS = DEVICE_ERRORS + (DataError,)


@contextmanager
def _device_failures():
    """A failing device (out of memory, a CUDA error) stops the caller with a DeviceError."""
    try:
        yield
    except DEVICE_ERRORS as error:
        raise DeviceError(f"the training device failed ({type(error).__name__}: {str(error)[:300]}); "
                          f"no loss is to blame: free the device or use smaller packs, then resume") from error


def _apply(criterion: Criterion, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor | Exception:
    """The loss value, or the error the loss's code raised."""
    try:
        return criterion(logits, targets)
    except LOSS_ERRORS as error:
        if isinstance(error, NOT_THE_LOSS):
            raise
        return error


@dataclass
class _Member:
    """One loss of a run (a run trains one loss, or a pack of several on one shared batch)."""

    slot: int  # its position in the caller's list of losses
    criterion: Criterion
    best_accuracy: float = 0.0
    best_loss: float = math.inf
    best_train_accuracy: float = 0.0  # over the steps between two validations
    last: tuple[float, float] = (0.0, math.nan)  # the latest validation: (accuracy, loss)
    history: list[dict] = field(default_factory=list)

    def validated(self, step: int, accuracy: float, loss: float, train_accuracy: float) -> None:
        self.last = (accuracy, loss)
        self.best_accuracy, self.best_loss = max(self.best_accuracy, accuracy), min(self.best_loss, loss)
        self.best_train_accuracy = max(self.best_train_accuracy, train_accuracy)
        self.history.append({"step": step, "val_accuracy": accuracy, "val_loss": loss,
                             "train_accuracy": train_accuracy})

    def result(self, status: str, reason: str | None, fitness: float, step: int, wall_s: float) -> Evaluation:
        return Evaluation(fitness, status, reason, step, wall_s, None if math.isinf(self.best_loss) else self.best_loss,
                          self.last[1], self.last[0], self.history)


@dataclass
class _Pack:
    """The members still training and all they share: one packed model (member k's logits in
    column block k), its optimiser, and two on-device counters with one row per member."""

    members: list[_Member]
    model: nn.Module
    forward: Callable[[torch.Tensor], torch.Tensor]  # the model, compiled when the preset asks (CUDA)
    optimizer: torch.optim.Optimizer
    bad: torch.Tensor  # a non-finite loss or gradient since the last check
    correct: torch.Tensor  # training hits since the last validation

    @classmethod
    def build(cls, members: list[_Member], model: nn.Module, config: TrainPreset, device: torch.device) -> "_Pack":
        """The members with this model (channels-last on the device), a fresh optimiser, counters at 0."""
        model = model.to(device).to(memory_format=torch.channels_last)  # faster on CUDA and CPU alike (oneDNN)
        forward = torch.compile(model) if (config.compile and device.type == "cuda") else model
        zeros = lambda dtype: torch.zeros(len(members), dtype=dtype, device=device)  # noqa: E731
        return cls(members, model, forward, _optimizer(model, config), zeros(torch.bool), zeros(torch.int64))

    def without(self, leaving: Collection[int], config: TrainPreset, device: torch.device) -> "_Pack":
        """The pack without the members at these positions: the model, optimiser state and counters
        regrouped, the others' rows unchanged."""
        keep = [p for p in range(len(self.members)) if p not in leaving]
        if not keep:
            return replace(self, members=[])
        count = len(self.members)
        pack = _Pack.build([self.members[p] for p in keep], packing.regroup(self.model, keep), config, device)
        packing.load_optimizer_state(pack.optimizer,
                                     packing.regroup_optimizer_state(self.optimizer.state_dict(), count, keep))
        pack.bad, pack.correct = (packing.select_rows(rows, count, keep) for rows in (self.bad, self.correct))
        return pack


def _stops_early(config: TrainPreset, step: int, train_accuracy: float) -> bool:
    """The preset's early stop: at a validation (an epoch's end, or the last step) from
    `early_stop_step` on, a training accuracy over the epoch below `early_stop_accuracy`."""
    return (config.early_stop_step is not None and step >= config.early_stop_step
            and train_accuracy < config.early_stop_accuracy)


def _labels(targets: torch.Tensor) -> torch.Tensor:
    """The class of each sample: the index, or the most likely class of mixed labels."""
    return targets if targets.dim() == 1 else targets.argmax(dim=1)


class _Run:
    """One training run of one loss, or of a pack of losses (one packed model, one shared batch,
    each member's own loss on its own logits). A member that diverges, fails or stops early
    leaves the pack (the model is regrouped without it); the others go on unchanged."""

    def __init__(self, criteria: list[Criterion], config: TrainPreset, technique: augment_module.Augment,
                 dataset: data.Dataset, seed: int, device: torch.device, progress: Progress | None):
        self.config, self.technique = config, technique
        self.device, self.progress = device, progress
        self.autocast = config.autocast(device.type)
        torch.manual_seed(seed)
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.train_set = dataset.train.to(device)
        self.val_set = dataset.val.to(device)
        mean, std = dataset.train.channel_stats()
        self.mean, self.std = mean.to(device)[None, :, None, None], std.to(device)[None, :, None, None]
        options = {"weights": config.weights} if config.weights else {}
        model = models.build_packed(config.model, dataset.num_classes, len(criteria), **options)
        self.pack = _Pack.build([_Member(slot, criterion) for slot, criterion in enumerate(criteria)], model,
                                config, device)
        self.results: dict[int, Evaluation] = {}  # by slot
        self.started = time.perf_counter()

    @property
    def members(self) -> list[_Member]:
        return self.pack.members

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def train(self) -> dict[int, Evaluation]:
        """Train every member to the end (or until it leaves); their Evaluations by slot."""
        config = self.config
        if len(self.train_set) < config.batch_size:
            raise DataError(f"{len(self.train_set)} training images: fewer than one batch of {config.batch_size}")
        schedule = one_cycle(config.warmup_steps, config.steps)
        batches = self._batches()
        seen, step = 0, 0
        while step < config.steps and self.members:
            images, targets = next(batches)
            self._step(images, targets, config.peak_lr * schedule(step))
            seen += len(images)
            step += 1
            validate_now = step % config.eval_every == 0 or step == config.steps
            if step % CHECK_EVERY == 0 or validate_now:
                self._check(step)
            if validate_now and self.members:
                self._validate(step, seen)
                seen = 0
            if self.progress and self.members:
                self.progress(step, config.steps, self.members[0].history[-1] if self.members[0].history else {})
        self._retire({p: m.result("ok", None, m.best_accuracy, step, self.elapsed())
                      for p, m in enumerate(self.members)})
        return self.results

    def _batches(self):
        """Augmented training batches, epoch after epoch, each epoch in a fresh random order."""
        size = self.config.batch_size
        while True:
            order = torch.randperm(len(self.train_set), device=self.device, generator=self.generator)
            for batch in range(len(order) // size):
                index = order[batch * size:(batch + 1) * size]
                yield self.technique(self.train_set.images[index], self.train_set.labels[index], self.generator)

    def _step(self, images: torch.Tensor, targets: torch.Tensor, learning_rate: float) -> None:
        pack = self.pack
        for group in pack.optimizer.param_groups:
            group["lr"] = learning_rate
        logits = self._logits(images, pack.forward)
        values, failed = self._losses(logits, targets)
        if len(failed) < len(pack.members):
            pack.optimizer.zero_grad(set_to_none=True)
            values.sum().backward()  # each member's parameters get the gradient of its own loss only
            pack.bad |= ~(torch.isfinite(values) & torch.isfinite(self._member_gradient_norms()))
            pack.optimizer.step()
            pack.correct += (logits.argmax(dim=2) == _labels(targets)[:, None]).sum(dim=0)
        if failed:
            self._retire(failed)

    def _logits(self, images: torch.Tensor, model: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """(batch, members, classes): each active member's logits for the batch."""
        images = packing.widen_input((images - self.mean) / self.std, len(self.members))
        images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            logits = model(images).float()
        return packing.member_logits(logits, len(self.members))

    def _losses(self, logits: torch.Tensor, targets: torch.Tensor):
        """Each member's loss value; a member whose loss raises leaves the run as `failed`."""
        values, failed = [], {}
        for position, member in enumerate(self.members):
            value = _apply(member.criterion, logits[:, position], targets)
            if isinstance(value, Exception):
                failed[position] = Evaluation.failed(value, self.elapsed())
                value = logits.new_zeros(())
            values.append(value)
        return torch.stack(values), failed

    def _member_gradient_norms(self) -> torch.Tensor:
        """Each member's total gradient norm (its rows of every gradient; views, no copies)."""
        count = len(self.members)
        squares = [torch.linalg.vector_norm(g.unflatten(0, (count, -1)), dim=tuple(range(1, g.dim() + 1))).square()
                   for g in (p.grad for p in self.pack.model.parameters()) if g is not None]
        return torch.stack(squares).sum(dim=0).sqrt()

    def _check(self, step: int) -> None:
        """Members whose loss or gradient went non-finite leave the run as `diverged`."""
        bad = self.pack.bad
        if bool(bad.any()):
            reason = f"non-finite loss or gradient by step {step}"
            self._retire({p: m.result("diverged", reason, 0.0, step, self.elapsed())
                          for p, m in enumerate(self.members) if bool(bad[p])})

    def _validate(self, step: int, seen: int) -> None:
        """Record each member's validation; a member whose loss raises, or that stops early, leaves."""
        config = self.config
        leaving = {}
        for position, outcome in enumerate(self._validation()):
            member = self.members[position]
            if isinstance(outcome, Exception):
                leaving[position] = Evaluation.failed(outcome, self.elapsed())
                continue
            train_accuracy = int(self.pack.correct[position]) / max(1, seen)
            member.validated(step, *outcome, train_accuracy)
            if _stops_early(config, step, train_accuracy):
                leaving[position] = self._stopped_early(member, step, train_accuracy)
        self.pack.correct.zero_()
        if leaving:
            self._retire(leaving)

    def _stopped_early(self, member: _Member, step: int, train_accuracy: float) -> Evaluation:
        """A member stopped early: its best validation accuracy, or fitness 0 (a failed evaluation)
        when its training accuracy never reached the threshold."""
        threshold = self.config.early_stop_accuracy
        reached = member.best_train_accuracy >= threshold
        reason = f"training accuracy {train_accuracy:.3f} < {threshold} at step {step}"
        if not reached:
            reason += f"; it never reached {threshold}: failed"
        return member.result("early_stopped", reason, member.best_accuracy if reached else 0.0, step, self.elapsed())

    @torch.no_grad()
    def _validation(self) -> list[tuple[float, float] | Exception]:
        """(accuracy, mean loss) of each active member on the validation split, or the error
        its loss raised (in batches of EVAL_BATCH, whose activations stay in a CPU's caches)."""
        model = self.pack.model  # not compiled: validation is too rare to pay for it
        model.eval()
        correct, total_loss = [0] * len(self.members), [0.0] * len(self.members)
        errors: dict[int, Exception] = {}
        for start in range(0, len(self.val_set), EVAL_BATCH):
            images = self.val_set.images[start:start + EVAL_BATCH].float() / 255
            labels = self.val_set.labels[start:start + EVAL_BATCH]
            logits = self._logits(images, model)
            hits = (logits.argmax(dim=2) == labels[:, None]).sum(dim=0).tolist()
            for position, member in enumerate(self.members):
                value = _apply(member.criterion, logits[:, position], labels)
                if isinstance(value, Exception):
                    errors.setdefault(position, value)
                    continue
                correct[position] += hits[position]
                total_loss[position] += float(value) * len(labels)
        model.train()
        return [errors.get(p, (c / len(self.val_set), t / len(self.val_set)))
                for p, (c, t) in enumerate(zip(correct, total_loss))]

    def _retire(self, finished: dict[int, Evaluation]) -> None:
        """Record the results of the members at these positions; the pack goes on without them."""
        for position, evaluation in finished.items():
            self.results[self.members[position].slot] = evaluation
        self.pack = self.pack.without(finished, self.config, self.device)


def evaluate(loss: Loss | Genome | Criterion | str, preset: str | TrainPreset = "demo", augment: str = "base",
             seed: int = 0, **options) -> Evaluation:
    """Train with `loss` (a Loss, a Genome or a criterion such as NATIVE_CE; see `criterion_for`)
    and return its Evaluation (fitness = best validation accuracy).

    Configuration problems (unknown preset, technique or option, missing data) raise;
    whatever the loss does in training (overflow, NaN, an exception in its torch code)
    comes back as an Evaluation with status `diverged` or `failed` and fitness 0.
    Options: as `evaluate_pack`.
    """
    return evaluate_pack([loss], preset, augment, seed, **options)[0]


def evaluate_pack(losses: Sequence[Loss | Genome | Criterion | str], preset: str | TrainPreset = "demo",
                  augment: str = "base", seed: int = 0, *, data_root: str | None = None, download: bool = False,
                  device: str | torch.device | None = None, progress: Progress | None = None,
                  **overrides) -> list[Evaluation]:
    """Train several losses at once as one packed model (one shared batch per step) and return
    their Evaluations in order. Each member starts from the weights and sees the batches it
    would alone, so its fitness is the one `evaluate` gives, up to float rounding; a member
    that diverges or fails leaves the pack without touching the others.
    Overrides: fields of the preset (steps=..., peak_lr=..., cutout_size=..., label_smoothing=...).
    """
    if not losses:
        raise ConfigError("evaluate_pack needs at least one loss")
    config = presets.with_overrides(presets.get(preset) if isinstance(preset, str) else preset, **overrides)
    device = torch.device(device) if device is not None else default_device()
    dataset = data.load(config.dataset, None if data_root is None else str(data_root), download, config.validation)
    technique = augment_module.build(augment, dataset.num_classes, config)
    criteria = [criterion_for(loss, config.label_smoothing) for loss in losses]
    with _device_failures():
        return _train(criteria, config, technique, dataset, seed, device, progress)


def _train(criteria: list[Criterion], config: TrainPreset, technique: augment_module.Augment,
           dataset: data.Dataset, seed: int, device: torch.device, progress: Progress | None) -> list[Evaluation]:
    run = _Run(criteria, config, technique, dataset, seed, device, progress)
    try:
        return _in_order(run.train(), len(criteria))
    except LOSS_ERRORS as error:  # raised by a loss's own code, in the shared backward pass
        if isinstance(error, NOT_THE_LOSS):
            raise
        if len(criteria) == 1:
            return [Evaluation.failed(error, run.elapsed())]
        results, remaining = run.results, [m.slot for m in run.members if m.slot not in run.results]
    del run  # its model and optimiser state leave the device before the members train again
    # no single member can be blamed: those still training start again alone
    for slot in remaining:
        results[slot] = _train([criteria[slot]], config, technique, dataset, seed, device, None)[0]
    return _in_order(results, len(criteria))


def _in_order(results: dict[int, Evaluation], count: int) -> list[Evaluation]:
    return [results[slot] for slot in range(count)]

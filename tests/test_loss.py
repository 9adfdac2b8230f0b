"""Loss: the compiled torch function against the genome's protected evaluation, and the module."""
import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from symloss import Genome, Loss, zoo
from symloss.loss import MIXED_FROM_CLASSES, SPLIT_FROM_CLASSES, LossModule
from symloss.symbolic import Y, YHAT


def logits_batch(batch=32, classes=10, seed=0, spread=None):
    generator = torch.Generator().manual_seed(seed)
    if spread is None:
        return torch.randn(batch, classes, generator=generator, dtype=torch.float64)
    return (torch.rand(batch, classes, generator=generator, dtype=torch.float64) * 2 - 1) * spread


def value_and_gradient(criterion, logits: torch.Tensor, target: torch.Tensor):
    """The criterion's value at `logits` and its gradient there."""
    leaf = logits.clone().requires_grad_(True)
    value = criterion(leaf, target)
    value.backward()
    return value.detach(), leaf.grad


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("classes", [10, 100])
def test_ce_genome_module_equals_cross_entropy(smoothing, classes):
    criterion = Loss.from_genome(zoo.ce_genome()).module(label_smoothing=smoothing)
    logits = logits_batch(classes=classes).float()
    target = torch.randint(0, classes, (32,), generator=torch.Generator().manual_seed(1))
    expected = F.cross_entropy(logits, target, label_smoothing=smoothing)
    torch.testing.assert_close(criterion(logits, target), expected, rtol=1e-4, atol=0)
    soft = F.one_hot(target, classes).float()
    torch.testing.assert_close(criterion(logits, soft), expected, rtol=1e-4, atol=0)


def test_module_gradient_equals_cross_entropy_gradient():
    logits = logits_batch().requires_grad_(True)
    target = torch.arange(32) % 10
    Loss.parse("-y*log(yhat)").module()(logits, target).backward()
    mine = logits.grad.clone()
    logits.grad = None
    F.cross_entropy(logits, target).backward()
    torch.testing.assert_close(mine, logits.grad, rtol=1e-4, atol=1e-5)  # eps = 1e-7 shifts it slightly


def test_module_accepts_low_precision_logits_and_keeps_dtype_of_float64():
    criterion = zoo.get("focal").module()
    target = torch.arange(8) % 10
    assert criterion(torch.randn(8, 10, dtype=torch.bfloat16), target).dtype == torch.float32
    assert criterion(torch.randn(8, 10, dtype=torch.float64), target).dtype == torch.float64


def test_zoo_label_smoothing_default_is_used_by_module():
    logits, target = logits_batch().float(), torch.arange(32) % 10
    torch.testing.assert_close(zoo.get("ce_ls").module()(logits, target),
                               F.cross_entropy(logits, target, label_smoothing=0.1), rtol=1e-4, atol=0)


def test_constant_terms_broadcast_to_the_batch_and_keep_a_gradient_path():
    logits = logits_batch(batch=4, classes=3).requires_grad_(True)
    loss = Loss.parse("2 + y")
    per_sample = loss.torch()(torch.full((4, 3), 1 / 3, dtype=torch.float64), torch.softmax(logits, -1))
    torch.testing.assert_close(per_sample, torch.full((4,), 7.0, dtype=torch.float64))
    loss.module()(logits, torch.arange(4) % 3).backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def protected_inputs(seed, smoothing):
    logits = logits_batch(batch=16, classes=10, seed=seed, spread=4.0)
    y = F.one_hot(torch.arange(16) % 10, 10).double()
    return y * (1 - smoothing) + smoothing / 10, torch.softmax(logits, -1)


def test_random_valid_genomes_compile_to_their_protected_evaluation():
    genomes = [Genome.random(seed) for seed in range(150)]
    agree = finite_where_reference_finite = total = 0
    for index, genome in enumerate(genomes):
        compiled = Loss.from_genome(genome).torch()
        for smoothing in (0.0, 0.1):
            y, yhat = protected_inputs(index, smoothing)
            reference = genome.evaluate(y, yhat)
            value = compiled(y, yhat)
            finite = torch.isfinite(reference)
            total += 1
            agree += bool(torch.allclose(value[finite], reference[finite], rtol=1e-4, atol=1e-8))
            finite_where_reference_finite += bool(torch.isfinite(value[finite]).all())
    assert agree == finite_where_reference_finite == total == 300


def test_random_valid_genomes_backpropagate_finitely_where_the_reference_does():
    good = total = 0
    for seed in range(100):
        genome = Genome.random(seed + 1000)
        logits = logits_batch(batch=16, seed=seed, spread=4.0)
        target = torch.arange(16) % 10

        def gradient(per_sample):
            leaf = logits.clone().requires_grad_(True)
            y = F.one_hot(target, 10).double()
            per_sample(y, torch.softmax(leaf, -1)).mean().backward()
            return leaf.grad

        reference = gradient(genome.evaluate)
        if not torch.isfinite(reference).all():
            continue
        total += 1
        good += bool(torch.isfinite(gradient(Loss.from_genome(genome).torch())).all())
    assert good == total == 99  # one genome's reference gradient is not finite on these inputs


def test_per_sample_shape_and_dtype_follow_the_inputs():
    per_sample = zoo.get("baikal").torch()
    y, yhat = protected_inputs(0, 0.1)
    assert per_sample(y, yhat).shape == (16,)
    assert per_sample(y.float(), yhat.float()).dtype == torch.float32


def test_loss_check_uses_the_binary_phenotype_for_expressions():
    assert Loss.parse("-y*log(yhat)").check().flip is False
    assert Loss.parse("y*log(yhat)").check().flip is True
    assert not Loss.parse("yhat*(1 - yhat)").check().valid
    assert np.all(np.diff(Loss.parse("-y*log(yhat)").binary_curve()) > 0)


def test_fused_gradient_equals_autograd_through_the_term():
    agree = total = 0
    for seed in range(120):
        loss = Loss.from_genome(Genome.random(seed + 5000))
        logits = logits_batch(batch=16, seed=seed, spread=4.0)
        target = torch.arange(16) % 10
        (fused_value, fused_grad), (plain_value, plain_grad) = (
            value_and_gradient(loss.module(label_smoothing=0.1, fused=fused), logits, target) for fused in (True, False))
        if not (torch.isfinite(plain_grad).all() and torch.isfinite(plain_value)):
            continue
        total += 1
        agree += bool(torch.allclose(fused_value, plain_value, rtol=1e-6)
                      and torch.allclose(fused_grad, plain_grad, rtol=1e-4, atol=1e-7))
    assert agree == total == 119  # one genome's plain path is not finite on these inputs


def test_fused_path_falls_back_when_targets_need_a_gradient():
    criterion = zoo.get("ce").module()
    logits = logits_batch(batch=4, classes=3).requires_grad_(True)
    soft = torch.full((4, 3), 1 / 3, dtype=torch.float64, requires_grad=True)
    criterion(logits, soft).backward()
    assert soft.grad is not None and logits.grad is not None


@pytest.mark.parametrize("classes", [10, SPLIT_FROM_CLASSES])
def test_class_index_targets_give_the_values_and_gradients_of_one_hot_rows(classes):
    """Index targets: the target column alone (closed-form gradient) where f(0, yhat) is linear in
    yhat, f(0, .) over every class plus the target column from SPLIT_FROM_CLASSES classes on, else
    one-hot rows; the values and gradients of autograd through the plain term on one-hot rows
    (float64), for the zoo and 200 random genomes."""
    losses = [zoo.get(name) for name in ("ce", "focal", "mse", "mae", "baikal")]
    losses += [Loss.from_genome(Genome.random(seed)) for seed in range(200)]
    compared = column = split = 0
    for seed, loss in enumerate(losses):
        logits = logits_batch(batch=16, classes=classes, seed=seed, spread=4.0)
        target = torch.arange(16) % classes
        module = loss.module()
        off_target = sp.simplify(loss.expr.subs(Y, 0))
        linear = sp.diff(off_target, YHAT, 2) == 0
        terms = module.at_class_indices
        assert terms is not None or module.with_gradient is None, loss
        if terms is not None:
            assert (terms.rest is None) == linear, loss
            column += linear
            split += not linear and classes >= SPLIT_FROM_CLASSES
        index_value, index_grad = value_and_gradient(module, logits, target)
        plain_value, plain_grad = value_and_gradient(loss.module(fused=False), logits, F.one_hot(target, classes).double())
        if not (torch.isfinite(plain_value) and torch.isfinite(plain_grad).all()):
            continue
        compared += 1
        torch.testing.assert_close(index_value, plain_value, rtol=1e-9, atol=1e-12, msg=str(loss))
        torch.testing.assert_close(index_grad, plain_grad, rtol=1e-7, atol=1e-10, msg=str(loss))
    assert (compared, column, split) == (205, 94, 85 if classes >= SPLIT_FROM_CLASSES else 0)  # observed


def mixed_targets(batch: int, classes: int, seed: int) -> torch.Tensor:
    """Each row two classes mixed, as mixup makes (weights 0.7 and 0.3; some rows one class alone)."""
    generator = torch.Generator().manual_seed(seed)
    first = torch.randint(0, classes, (batch,), generator=generator)
    second = (first + torch.randint(1, classes, (batch,), generator=generator)) % classes
    weight = torch.where(torch.arange(batch) % 4 == 0, 1.0, 0.7).double()[:, None]
    return weight * F.one_hot(first, classes).double() + (1 - weight) * F.one_hot(second, classes).double()


def test_mixed_targets_give_the_values_and_gradients_of_dense_rows():
    """Soft targets with at most MAX_MIXED classes per row, from MIXED_FROM_CLASSES classes on:
    f(0, .) plus the mixed columns alone; the values and gradients of the general fused path on
    the dense rows (the same derivatives: SymPy's, kinks included), float64, for the zoo and 200
    random genomes."""
    losses = [zoo.get(name) for name in ("ce", "focal", "mse", "mae", "baikal")]
    losses += [Loss.from_genome(Genome.random(seed)) for seed in range(200)]
    compared = sparse = 0
    for seed, loss in enumerate(losses):
        logits = logits_batch(batch=16, classes=MIXED_FROM_CLASSES, seed=seed, spread=4.0)
        target = mixed_targets(16, MIXED_FROM_CLASSES, seed)
        module = loss.module()
        sparse += module.at_class_indices is not None
        dense = LossModule(module.term, module.with_gradient)
        (sparse_value, sparse_grad), (dense_value, dense_grad) = (
            value_and_gradient(criterion, logits, target) for criterion in (module, dense))
        if not (torch.isfinite(dense_value) and torch.isfinite(dense_grad).all()):
            continue
        compared += 1
        torch.testing.assert_close(sparse_value, dense_value, rtol=1e-9, atol=1e-12, msg=str(loss))
        torch.testing.assert_close(sparse_grad, dense_grad, rtol=1e-7, atol=1e-10, msg=str(loss))
    assert (compared, sparse) == (204, 179)  # observed


def test_cross_entropy_needs_only_the_target_column():
    module = zoo.get("ce").module()
    assert module.at_class_indices.rest is None and zoo.get("mse").module().at_class_indices.rest is not None
    logits = logits_batch().float().requires_grad_(True)
    target = torch.arange(32) % 10
    module(logits, target).backward()
    expected = logits.detach().clone().requires_grad_(True)
    F.cross_entropy(expected, target).backward()
    torch.testing.assert_close(logits.grad, expected.grad, rtol=1e-4, atol=1e-6)

"""The five techniques: shapes, targets, per-image randomness, determinism."""
import pytest
import torch

from symloss import ConfigError, augment, data


@pytest.fixture(scope="module")
def batch():
    digits = data.load("digits")
    return digits.train.images[:32], digits.train.labels[:32]


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_shapes_dtypes_and_target_rows(name, batch):
    images, labels = batch
    out, soft = augment.build(name, 10)(images, labels, generator())
    assert out.shape == images.shape and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert soft.shape == (32, 10)
    torch.testing.assert_close(soft.sum(dim=1), torch.ones(32))


@pytest.mark.parametrize("name", ["mixup", "all"])
def test_mixup_targets_are_soft(name, batch):
    images, labels = batch
    _, soft = augment.build(name, 10)(images, labels, generator())
    one_hot = torch.nn.functional.one_hot(labels, 10).float()
    assert not torch.allclose(soft, one_hot)
    assert (soft.max(dim=1).values < 1).float().mean() > 0.8  # nearly every row is a real mixture


@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_each_image_gets_its_own_draw(name, batch):
    images, labels = batch
    same = images[:1].expand(16, -1, -1, -1).contiguous()
    out, _ = augment.build(name, 10, mixup_alpha=1.0)(same, labels[:1].expand(16), generator(3))
    distinct = {tuple(o.flatten().tolist()) for o in (out * 255).round().to(torch.uint8)}
    assert len(distinct) >= 8


@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_same_generator_seed_same_result(name, batch):
    images, labels = batch
    technique = augment.build(name, 10)
    first = technique(images, labels, generator(7))
    second = technique(images, labels, generator(7))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


def test_float_images_and_soft_targets_are_accepted(batch):
    images, labels = batch
    soft_in = torch.nn.functional.one_hot(labels, 10).float() * 0.9 + 0.01
    out, soft = augment.build("all", 10)(images.float() / 255, soft_in, generator())
    assert out.dtype == torch.float32 and soft.shape == (32, 10)


def test_cutout_zeroes_one_square_per_image():
    ones = torch.full((8, 3, 32, 32), 255, dtype=torch.uint8)
    out = augment.cutout(ones, 16, generator())
    zeroed = (out[:, 0] == 0).sum(dim=(1, 2))
    assert torch.all(zeroed > 0) and torch.all(zeroed <= 16 * 16)
    assert (zeroed == 256).any()  # a square fully inside the image


def test_crop_shifts_content_by_at_most_the_padding():
    image = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    image[0, 0, 16, 16] = 255
    out = augment.crop_and_flip(image.expand(64, -1, -1, -1), pad=4, flip=False, generator=generator())
    rows, cols = torch.nonzero(out[:, 0] == 255)[:, 1], torch.nonzero(out[:, 0] == 255)[:, 2]
    assert (rows - 16).abs().max() <= 4 and (cols - 16).abs().max() <= 4
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10


def test_sizes_scale_with_the_image():
    big = torch.full((4, 3, 64, 64), 255, dtype=torch.uint8)
    out, _ = augment.build("cutout", 10, pad=0, flip=False)(big, torch.zeros(4, dtype=torch.long), generator())
    assert ((out[:, 0] == 0).sum(dim=(1, 2)) <= 32 * 32).all() and ((out[:, 0] == 0).sum(dim=(1, 2)) > 256).any()


def test_unknown_technique_or_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="autoaugment"):
        augment.build("autoaugment", 10)
    with pytest.raises(ConfigError, match="cutout_side"):
        augment.build("cutout", 10, cutout_side=8)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_runs_on_a_cuda_batch(name, batch):
    images, labels = batch
    out, soft = augment.build(name, 10)(images.cuda(), labels.cuda(), torch.Generator("cuda").manual_seed(0))
    assert out.is_cuda and soft.is_cuda

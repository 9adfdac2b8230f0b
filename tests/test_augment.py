"""The five techniques: shapes, targets, per-image randomness, determinism; the 14 RandAugment operations."""
from collections import Counter

import numpy as np
import pytest
import torch

from symloss import ConfigError, augment, data
from symloss.presets import Augmentation


@pytest.fixture(scope="module")
def batch():
    digits = data.load("digits")
    return digits.train.images[:32], digits.train.labels[:32]


def generator(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_shapes_dtypes_and_targets(name, batch):
    """Class indices come back unchanged where no labels are mixed; mixing ones give probabilities."""
    images, labels = batch
    technique = augment.build(name, 10)
    out, targets = technique(images, labels, generator())
    assert out.shape == images.shape and out.dtype == torch.float32
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    assert technique.mixes_labels == (name in ("mixup", "all"))
    if technique.mixes_labels:
        assert targets.shape == (32, 10) and targets.dtype == torch.float32
        torch.testing.assert_close(targets.sum(dim=1), torch.ones(32))
    else:
        assert targets.dtype == torch.int64 and torch.equal(targets, labels)


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
    out, _ = augment.build(name, 10)(same, labels[:1].expand(16), generator(3))
    distinct = {tuple(o.flatten().tolist()) for o in (out * 255).round().to(torch.uint8)}
    assert len(distinct) >= 8


@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_same_generator_seed_same_result(name, batch):
    images, labels = batch
    technique = augment.build(name, 10)
    first = technique(images, labels, generator(7))
    second = technique(images, labels, generator(7))
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])


@pytest.mark.parametrize("name", ["cutout", "all"])
def test_float_images_and_soft_targets_are_accepted(name, batch):
    images, labels = batch
    soft_in = torch.nn.functional.one_hot(labels, 10).float() * 0.9 + 0.01
    out, soft = augment.build(name, 10)(images.float() / 255, soft_in, generator())
    assert out.dtype == torch.float32 and soft.shape == (32, 10)
    assert torch.equal(soft, soft_in) == (name == "cutout")  # unmixed targets come back as they came


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
    out, _ = augment.build("cutout", 10, Augmentation(pad=0), flip=False)(big, torch.zeros(4, dtype=torch.long),
                                                                          generator())
    assert ((out[:, 0] == 0).sum(dim=(1, 2)) <= 32 * 32).all() and ((out[:, 0] == 0).sum(dim=(1, 2)) > 256).any()


@pytest.mark.parametrize("size", [2, 8, 16])
def test_the_cutout_size_is_the_square_at_32_pixels_and_scales_to_8(size):
    """At 32x32 the square is `size` px; on the 8x8 digits a quarter of it (at least 1 px)."""
    for width, side in ((32, size), (8, max(1, round(size / 4)))):
        ones = torch.full((64, 1, width, width), 255, dtype=torch.uint8)
        out, _ = augment.build("cutout", 10, Augmentation(pad=0, cutout_size=size), flip=False)(
            ones, torch.zeros(64, dtype=torch.long), generator())
        zeroed = (out[:, 0] == 0).sum(dim=(1, 2))
        assert int(zeroed.max()) == side * side and bool((zeroed > 0).all()), (width, size)


@pytest.mark.parametrize("pad", [0, 4, 8])
def test_the_padding_is_the_largest_shift_at_32_pixels_and_scales_to_8(pad):
    for width, shift in ((32, pad), (8, max(1, round(pad / 4)) if pad else 0)):
        image = torch.zeros(1, 1, width, width, dtype=torch.uint8)
        image[0, 0, width // 2, width // 2] = 255
        out, _ = augment.build("base", 10, Augmentation(pad=pad), flip=False)(
            image.expand(400, -1, -1, -1), torch.zeros(400, dtype=torch.long), generator())
        rows = torch.nonzero(out[:, 0] == 1)[:, 1] - width // 2
        assert int(rows.abs().max()) == shift, (width, pad)


@pytest.mark.parametrize("alpha, low, high", [(0.05, 0.0, 0.1), (1.0, 0.2, 0.3), (50.0, 0.4, 0.5)])
def test_mixup_alpha_sets_how_far_labels_are_mixed(alpha, low, high):
    """Each image its own class: 1 - the largest target is min(lambda, 1 - lambda), whose mean under
    Beta(alpha, alpha) is near 0 for a small alpha, 1/4 for alpha 1 (uniform), near 1/2 for a large one."""
    images = torch.zeros(256, 1, 8, 8, dtype=torch.uint8)
    technique = augment.build("mixup", 256, Augmentation(mixup_alpha=alpha))
    _, soft = technique(images, torch.arange(256), generator())
    assert low <= float((1 - soft.max(dim=1).values).mean()) <= high


def test_an_unknown_technique_is_a_config_error():
    with pytest.raises(ConfigError, match="autoaugment"):
        augment.build("autoaugment", 10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("name", augment.TECHNIQUES)
def test_runs_on_a_cuda_batch(name, batch):
    images, labels = batch
    out, soft = augment.build(name, 10)(images.cuda(), labels.cuda(), torch.Generator("cuda").manual_seed(0))
    assert out.is_cuda and soft.is_cuda


# ---- RandAugment: each of the 14 operations does what it is named for ------------------------
# Expected values are computed here by hand (numpy, PIL), never by calling the operation twice.
def randaug_op(name, images, magnitude):
    return augment._apply_randaug_op(images, name, magnitude)


def test_randaug_has_the_fourteen_operations_at_the_magnitudes_of_the_paper():
    # at m = 9 of 30 on a 32-pixel image: shear 0.3 * 9/30, translate 150/331 of the width * 9/30,
    # rotate 30 deg * 9/30, enhancements 0.9 * 9/30 around a factor of 1, posterize round(8 - 9/7.5)
    # bits, solarize above 1 - 9/30 of full scale; identity, auto-contrast and equalize take none
    expected = {"identity": None, "shear_x": 0.09, "shear_y": 0.09, "translate_x": 4.35045,
                "translate_y": 4.35045, "rotate": 9.0, "brightness": 0.27, "color": 0.27, "contrast": 0.27,
                "sharpness": 0.27, "posterize": 7.0, "solarize": 0.7, "autocontrast": None, "equalize": None}
    signed = {"shear_x", "shear_y", "translate_x", "translate_y", "rotate", "brightness", "color", "contrast",
              "sharpness"}
    assert sorted(augment.RANDAUG_OPS) == sorted(expected)
    for name, (magnitude_of, is_signed, _) in augment.RANDAUG_OPS.items():
        assert is_signed == (name in signed), name
        if expected[name] is None:
            assert magnitude_of is None, name
        else:
            assert magnitude_of(9, 32) == pytest.approx(expected[name], abs=1e-4), name
    assert augment.RANDAUG_OPS["posterize"][0](30, 32) == 4 and augment.RANDAUG_OPS["rotate"][0](30, 32) == 30
    for name in ("translate_x", "translate_y"):  # a fraction of the width
        assert augment.RANDAUG_OPS[name][0](9, 64) == pytest.approx(2 * 4.35045, abs=1e-4)


def test_identity_leaves_the_image_alone():
    images = torch.randint(0, 256, (3, 3, 8, 8), dtype=torch.uint8, generator=generator())
    assert torch.equal(randaug_op("identity", images, 0.0), images)


@pytest.mark.parametrize("name, sign, moved_to", [
    ("translate_x", 1, (10, 14)), ("translate_x", -1, (10, 6)),
    ("translate_y", 1, (14, 10)), ("translate_y", -1, (6, 10)),
])
def test_translate_moves_pixels_by_the_magnitude(name, sign, moved_to):
    image = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    image[0, 0, 10, 10] = 255
    magnitude = augment.RANDAUG_OPS[name][0](9, 32)  # 4.35 px: whole pixels, 4
    out = randaug_op(name, image, sign * magnitude)
    assert torch.nonzero(out[0, 0]).tolist() == [list(moved_to)]


@pytest.mark.parametrize("angle", [90.0, 9.0, -9.0])
def test_rotate_turns_counter_clockwise_about_the_centre(angle):
    image = torch.zeros(1, 1, 33, 33, dtype=torch.uint8)
    image[0, 0, 16, 16] = 200  # the centre pixel of an odd-sized image
    image[0, 0, 15:18, 25:28] = 255  # a 3x3 blob 10 px right of it
    out = randaug_op("rotate", image, angle)[0, 0]
    assert int(out[16, 16]) == 200
    rows, cols = torch.nonzero(out == 255, as_tuple=True)
    radians = np.radians(angle)
    # counter-clockwise on screen: right of the centre goes up (smaller row) for a positive angle
    assert float(rows.float().mean()) == pytest.approx(16 - 10 * np.sin(radians), abs=0.5)
    assert float(cols.float().mean()) == pytest.approx(16 + 10 * np.cos(radians), abs=0.5)


@pytest.mark.parametrize("magnitude", [0.3, -0.3, 0.09])
def test_shear_x_shifts_each_row_in_proportion_to_its_height(magnitude):
    image = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    image[0, 0, :, 16] = 255  # a vertical line
    out = randaug_op("shear_x", image, magnitude)[0, 0]
    for row in range(32):
        # PIL's affine (1, m, 0, 0, 1, 0) of RandAugment: the pixel at (x, y) comes from (x + m y, y)
        columns = torch.nonzero(out[row]).flatten().tolist()
        assert columns and all(abs(c - (16 - magnitude * row)) <= 1 for c in columns), (row, columns)
    assert torch.nonzero(out[0]).flatten().tolist() == [16]


@pytest.mark.parametrize("magnitude", [0.3, -0.3])
def test_shear_y_shifts_each_column_in_proportion_to_its_abscissa(magnitude):
    image = torch.zeros(1, 1, 32, 32, dtype=torch.uint8)
    image[0, 0, 16, :] = 255  # a horizontal line
    out = randaug_op("shear_y", image, magnitude)[0, 0]
    for column in range(32):
        rows = torch.nonzero(out[:, column]).flatten().tolist()
        assert rows and all(abs(r - (16 - magnitude * column)) <= 1 for r in rows), (column, rows)


def colour_images():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 3, 16, 16)).astype(np.uint8)
    images[1] //= 3  # a darker second image: per-image statistics differ
    return images


def grey_of(images):
    return 0.2989 * images[:, 0] + 0.587 * images[:, 1] + 0.114 * images[:, 2]  # ITU-R 601-2 luma


def within_rounding(out, expected):
    out = out.numpy().astype(float)
    assert np.abs(out - np.clip(expected, 0, 255)).max() < 1.5  # uint8 truncation and rounding


@pytest.mark.parametrize("magnitude", [0.27, -0.27])
def test_brightness_scales_every_pixel_by_one_plus_the_magnitude(magnitude):
    images = colour_images()
    within_rounding(randaug_op("brightness", torch.from_numpy(images), magnitude), images * (1 + magnitude))


@pytest.mark.parametrize("magnitude", [0.27, -0.27])
def test_color_blends_with_the_grey_image(magnitude):
    images = colour_images().astype(float)
    factor = 1 + magnitude
    expected = factor * images + (1 - factor) * grey_of(images)[:, None]
    within_rounding(randaug_op("color", torch.from_numpy(colour_images()), magnitude), expected)


@pytest.mark.parametrize("magnitude", [0.27, -0.27])
def test_contrast_blends_with_each_images_mean_grey(magnitude):
    images = colour_images().astype(float)
    factor = 1 + magnitude
    mean = grey_of(images).mean(axis=(1, 2))[:, None, None, None]  # one mean per image
    expected = factor * images + (1 - factor) * mean
    within_rounding(randaug_op("contrast", torch.from_numpy(colour_images()), magnitude), expected)


@pytest.mark.parametrize("magnitude", [0.27, -0.27])
def test_sharpness_blends_with_a_smoothed_image_inside_the_border(magnitude):
    from scipy import ndimage

    images = colour_images().astype(float)
    kernel = np.array([[1, 1, 1], [1, 5, 1], [1, 1, 1]]) / 13  # PIL's SMOOTH filter
    smooth = np.stack([[ndimage.correlate(channel, kernel) for channel in image] for image in images])
    factor = 1 + magnitude
    expected = factor * images + (1 - factor) * smooth
    border = np.ones(images.shape[-2:], dtype=bool)
    border[1:-1, 1:-1] = False
    expected[..., border] = images[..., border]  # the border is kept
    within_rounding(randaug_op("sharpness", torch.from_numpy(colour_images()), magnitude), expected)


def test_posterize_keeps_the_high_bits():
    images = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    bits = augment.RANDAUG_OPS["posterize"][0](9, 32)
    assert bits == 7
    assert torch.equal(randaug_op("posterize", images, bits), images & 0b11111110)
    assert torch.equal(randaug_op("posterize", images, 4), images & 0b11110000)


def test_solarize_inverts_the_pixels_above_the_threshold():
    images = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16)
    out = randaug_op("solarize", images, augment.RANDAUG_OPS["solarize"][0](9, 32)).flatten().tolist()
    # threshold 0.7 of 255 = 178.5: 0..178 stay, 179..255 become 255 - value
    assert out == list(range(179)) + [255 - v for v in range(179, 256)]


def test_autocontrast_stretches_each_channel_to_the_full_range():
    images = colour_images().astype(float)
    low, high = images.min(axis=(2, 3), keepdims=True), images.max(axis=(2, 3), keepdims=True)
    out = randaug_op("autocontrast", torch.from_numpy(colour_images()), 0.0)
    within_rounding(out, (images - low) * 255 / (high - low))
    assert (out.amin(dim=(2, 3)) == 0).all() and (out.amax(dim=(2, 3)) >= 254).all()  # 254: truncation


def test_equalize_flattens_the_histogram():
    image = torch.zeros(1, 3, 32, 32, dtype=torch.uint8)
    image[0] = torch.tensor([100, 101, 102, 103], dtype=torch.uint8).repeat_interleave(256).reshape(32, 32)
    values, counts = randaug_op("equalize", image, 0.0)[0].unique(return_counts=True)
    # four equally frequent grey levels spread evenly over 0..255 (PIL's lookup table, by hand)
    assert values.tolist() == [0, 85, 171, 255] and counts.tolist() == [768] * 4


def test_equalize_is_pils_on_each_image():
    from PIL import Image, ImageOps

    rng = np.random.default_rng(1)
    images = np.clip(rng.normal([[[[110]]], [[[60]]]], 6, (2, 3, 32, 32)), 0, 255).astype(np.uint8)
    out = randaug_op("equalize", torch.from_numpy(images), 0.0).numpy()
    expected = np.stack([np.array(ImageOps.equalize(Image.fromarray(image.transpose(1, 2, 0)))).transpose(2, 0, 1)
                         for image in images])
    assert np.array_equal(out, expected)
    assert out.min() == 0 and out.max() == 255  # a narrow histogram (about 30 levels) made wide


# ---- RandAugment: n operations per image, each image its own draws ---------------------------
class Recorder:
    """Stands in for the operations: records which images each one got, and counts them in a pixel."""

    def __init__(self):
        self.calls = []

    def __call__(self, images, name, magnitude):
        self.calls.append((name, magnitude, tag_of(images).tolist()))
        out = images.clone()
        out[:, 1, 0, 0] += 1
        return out


def tagged(batch):
    """uint8 images whose first two pixels spell their index."""
    images = torch.zeros(batch, 3, 2, 32, dtype=torch.uint8)
    images[:, 0, 0, 0], images[:, 0, 0, 1] = torch.arange(batch) // 256, torch.arange(batch) % 256
    return images


def tag_of(images):
    return images[:, 0, 0, 0].long() * 256 + images[:, 0, 0, 1].long()


def per_image(calls):
    sequences = {}
    for name, magnitude, ids in calls:
        for index in ids:
            sequences.setdefault(index, []).append((name, magnitude))
    return sequences


@pytest.mark.parametrize("n", [1, 2, 3])
def test_randaugment_applies_n_operations_to_every_image(n, monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(augment, "_apply_randaug_op", recorder)
    out = augment.randaugment(tagged(300), n, 9, generator(n))
    sequences = per_image(recorder.calls)
    assert sorted(sequences) == list(range(300)) and all(len(s) == n for s in sequences.values())
    assert (out[:, 1, 0, 0] == n).all()  # every operation's output is kept
    assert torch.equal(tag_of(out), torch.arange(300))  # each image stays in its place


def test_randaugment_draws_operations_and_signs_per_image(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(augment, "_apply_randaug_op", recorder)
    augment.randaugment(tagged(1400), 2, 9, generator(5))
    sequences = per_image(recorder.calls)
    at_9 = {"shear_x": 0.09, "shear_y": 0.09, "translate_x": 4.35045, "translate_y": 4.35045, "rotate": 9.0,
            "brightness": 0.27, "color": 0.27, "contrast": 0.27, "sharpness": 0.27}
    unsigned = {"identity": 0.0, "autocontrast": 0.0, "equalize": 0.0, "posterize": 7.0, "solarize": 0.7}
    draws = Counter((name, np.sign(m)) for s in sequences.values() for name, m in s)
    for name, magnitude in at_9.items():  # 2800 draws: 200 per operation, 100 per sign expected
        assert 60 <= draws[name, 1.0] <= 140 and 60 <= draws[name, -1.0] <= 140, (name, draws)
        assert all(abs(abs(m) - magnitude) < 1e-4 for s in sequences.values() for n, m in s if n == name)
    for name, magnitude in unsigned.items():
        assert 140 <= sum(c for (n, _), c in draws.items() if n == name) <= 260, (name, draws)
        assert {m for s in sequences.values() for n, m in s if n == name} == {magnitude}
    # about 23 (operation, sign) outcomes per round: ~530 sequences of two, ~470 expected among 1400 images
    assert len({tuple(s) for s in sequences.values()}) > 350


def test_the_randaug_technique_passes_n_and_m_and_changes_the_images(monkeypatch, batch):
    recorder = Recorder()
    monkeypatch.setattr(augment, "_apply_randaug_op", recorder)
    out, _ = augment.build("randaug", 10, Augmentation(pad=0, randaug_n=3, randaug_m=15), flip=False)(
        tagged(50), torch.zeros(50, dtype=torch.long), generator())
    sequences = per_image(recorder.calls)
    assert len(sequences) == 50 and all(len(s) == 3 for s in sequences.values())
    rotations = {abs(m) for s in sequences.values() for n, m in s if n == "rotate"}
    assert rotations <= {15.0} and (out[:, 1, 0, 0] * 255).round().eq(3).all()
    monkeypatch.undo()
    images, labels = batch  # real digits, no crop or flip: only RandAugment can change them
    out, _ = augment.build("randaug", 10, Augmentation(pad=0), flip=False)(images, labels, generator())
    changed = ((out * 255).round().to(torch.uint8) != images).flatten(1).any(dim=1)
    assert changed.float().mean() >= 0.75

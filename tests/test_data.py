"""Data sets: the embedded digits, torchvision's on-disk formats, clear errors when missing."""
import pickle

import numpy as np
import pytest
import torch

from symloss import ConfigError, DataError, data


def test_digits_are_embedded_32x32_rgb_with_a_fixed_split():
    digits = data.load("digits")
    assert digits.num_classes == 10
    assert digits.train.images.shape == (1438, 3, 32, 32) and digits.train.images.dtype == torch.uint8
    assert len(digits.val) == 1797 - 1438
    assert set(digits.train.labels.tolist()) == set(range(10))
    again = data.digits()
    assert torch.equal(again.val.labels, digits.val.labels) and torch.equal(again.val.images, digits.val.images)
    mean, std = digits.train.channel_stats()
    assert mean.shape == (3,) and torch.all(std > 0)


def write_cifar10(root, per_batch=4):
    """A tiny data set in torchvision's CIFAR-10 on-disk format."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for index, name in enumerate(names):
        batch = {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
                 "labels": [(index * per_batch + k) % 10 for k in range(per_batch)]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))


@pytest.fixture
def fake_cifar(tmp_path, monkeypatch):
    from torchvision.datasets import cifar

    write_cifar10(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)  # our files have other checksums
    monkeypatch.setattr(cifar.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(data, "CIFAR_VALIDATION", slice(16, 20))  # the last 4 of 20, as 45k..50k of 50k
    return tmp_path


def test_cifar_is_read_from_torchvisions_format_with_the_held_out_split(fake_cifar):
    search = data.cifar(10, fake_cifar, validation=True)
    assert len(search.train) == 16 and len(search.val) == 4
    assert search.train.images.shape[1:] == (3, 32, 32) and search.train.images.dtype == torch.uint8
    assert search.val.labels.tolist() == [6, 7, 8, 9]  # images 16..19 of the training files
    final = data.cifar(10, fake_cifar, validation=False)
    assert len(final.train) == 20 and len(final.val) == 4


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "cars", "flowers102", "caltech101"])
def test_missing_data_raises_data_error_saying_where_and_how(tmp_path, name):
    with pytest.raises(DataError, match="--download") as caught:
        data.load(name, str(tmp_path / "empty"))
    assert str(tmp_path / "empty") in str(caught.value)


def test_data_sets_that_need_a_root_say_so_without_one():
    with pytest.raises(DataError, match="data root"):
        data.load("cifar10")


def test_unknown_data_set_is_a_config_error():
    with pytest.raises(ConfigError, match="imagenet"):
        data.load("imagenet")

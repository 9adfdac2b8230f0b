"""Models: parameter counts as the paper's, forward and backward at 10 and 100 classes."""
import pytest
import torch

from symloss import ConfigError, DataError, models


@pytest.mark.parametrize("name, expected, tolerance", [
    ("resnet9v2", 6.5e6, 0.3e6), ("wrn28_10", 36.5e6, 0.5e6),
])
def test_parameter_counts(name, expected, tolerance):
    assert abs(models.parameter_count(models.build(name, 10)) - expected) <= tolerance


@pytest.mark.parametrize("name, size", [("resnet9v2", 32), ("wrn28_10", 32), ("small_cnn", 32),
                                        ("efficientnet_v2_s", 64)])
@pytest.mark.parametrize("classes", [10, 100])
def test_forward_and_backward(name, size, classes):
    model = models.build(name, classes)
    logits = model(torch.randn(2, 3, size, size))
    assert logits.shape == (2, classes)
    logits.square().mean().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_efficientnet_weights_come_from_a_local_file(tmp_path):
    pretrained = models.build("efficientnet_v2_s", 1000)
    path = tmp_path / "effnet.pth"
    torch.save(pretrained.state_dict(), path)
    tuned = models.build("efficientnet_v2_s", 10, weights=str(path))
    first_conv = next(iter(pretrained.state_dict()))
    assert torch.equal(tuned.state_dict()[first_conv], pretrained.state_dict()[first_conv])
    assert tuned.classifier[-1].out_features == 10
    with pytest.raises(DataError, match="never downloads"):
        models.build("efficientnet_v2_s", 10, weights=str(tmp_path / "missing.pth"))


def test_unknown_model_is_a_config_error():
    with pytest.raises(ConfigError, match="vgg"):
        models.build("vgg", 10)

"""Foundation encoders load from local files only; tested with tiny randomly initialised models saved to disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.selection.embedders import get_embedder
from sparselabel.selection.foundation_embedders import torchvision_state


@pytest.fixture(scope="module")
def scans():
    return [c.image for c in phantoms.chest_cohort(per_group=2, seed=1)]


@pytest.fixture(scope="module")
def dino_folder(tmp_path_factory):
    transformers = pytest.importorskip("transformers")
    config = transformers.Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                       intermediate_size=64, image_size=56, patch_size=14)
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny-dinov2")
    transformers.Dinov2Model(config).save_pretrained(folder)
    return folder


def test_dinov2_folder_gives_class_and_mean_patch_tokens(dino_folder, scans):
    embedder = get_embedder("dinov2", dino_folder, device="cpu")
    vectors = embedder.embed(scans)
    assert vectors.shape == (len(scans), 64) and np.isfinite(vectors).all()
    assert not np.allclose(vectors[0], vectors[-1])  # different scans, different vectors
    np.testing.assert_allclose(embedder.embed(scans[:1]), vectors[:1], rtol=1e-5)  # batching does not change them
    # The weights really are the saved ones: a freshly initialised network describes the scans differently.
    import transformers

    other = dino_folder.parent / "other"
    torch.manual_seed(1)
    transformers.Dinov2Model(embedder.network.config).save_pretrained(other)
    again = get_embedder("dinov2", other, device="cpu")
    assert again.identity != embedder.identity
    assert not np.allclose(again.embed(scans[:1]), vectors[:1])


def test_models_folder_from_the_environment(dino_folder, monkeypatch, scans):
    monkeypatch.setenv("SPARSELABEL_MODELS", str(dino_folder.parent))
    (dino_folder.parent / "dinov2").symlink_to(dino_folder, target_is_directory=True)
    assert get_embedder("dinov2", device="cpu").embed(scans[:1]).shape == (1, 64)


def _tiny_resnet(bottleneck: bool):
    from monai.networks.nets import ResNet

    torch.manual_seed(0)
    return ResNet("bottleneck" if bottleneck else "basic", [1, 2, 1, 1], [4, 8, 8, 16], spatial_dims=2,
                  n_input_channels=3, conv1_t_stride=2, feed_forward=False, bias_downsample=False).eval()


@pytest.mark.parametrize("bottleneck", [True, False])
def test_resnet_checkpoint_architecture_is_read_from_the_file(tmp_path, scans, bottleneck):
    network = _tiny_resnet(bottleneck)
    # Saved the way training scripts often do: wrapped, with a DataParallel prefix and a classifier head.
    state = {f"module.{k}": v for k, v in network.state_dict().items()}
    state["module.fc.weight"] = torch.zeros(3, 64 if bottleneck else 16)
    torch.save({"state_dict": state, "epoch": 3}, tmp_path / "radimagenet.pt")
    embedder = get_embedder("resnet50", tmp_path / "radimagenet.pt", device="cpu")
    vectors = embedder.embed(scans)
    assert vectors.shape == (len(scans), 64 if bottleneck else 16)
    with torch.no_grad():
        expected = network(embedder._inputs(embedder._slices(scans[0]))).numpy()
    np.testing.assert_allclose(vectors[0], expected[0], rtol=1e-4, atol=1e-6)


def test_sequential_numbering_is_understood():
    network = _tiny_resnet(True)
    names = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    numbered = {f"backbone.{names[k.split('.')[0]]}.{k.split('.', 1)[1]}": v for k, v in network.state_dict().items()}
    assert set(torchvision_state(numbered)) == set(network.state_dict())


def test_missing_or_wrong_model_files_are_explained(tmp_path, monkeypatch):
    monkeypatch.delenv("SPARSELABEL_MODELS", raising=False)
    with pytest.raises(UserInputError, match="nothing is downloaded"):
        get_embedder("dinov2")
    with pytest.raises(UserInputError, match="does not exist"):
        get_embedder("resnet50", tmp_path / "absent.pt")
    with pytest.raises(UserInputError, match=r"no config\.json"):
        get_embedder("dinov2", tmp_path)
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(UserInputError, match="not a PyTorch checkpoint"):
        get_embedder("resnet50", tmp_path / "notes.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    with pytest.raises(UserInputError, match="no ResNet weights"):
        get_embedder("resnet50", tmp_path / "other.pt")

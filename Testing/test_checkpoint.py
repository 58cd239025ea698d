"""Checkpoints round-trip, and anything that is not one of ours is refused without being run."""

from __future__ import annotations

import pickle

import pytest
import torch

from sparselabel.core.errors import UserInputError
from sparselabel.propagation import checkpoint
from sparselabel.propagation.checkpoint import load_checkpoint, save_checkpoint
from sparselabel.propagation.reconstruction import ReconstructionConfig, ReconstructionNetwork
from sparselabel.propagation.slice_encoder import EncoderConfig

TINY = ReconstructionConfig(EncoderConfig(widths=(4, 4, 8, 8), feature_channels=8, gabor_scales=2,
                                          gabor_orientations=4), window=5)


def test_round_trip_keeps_config_weights_and_record(tmp_path):
    torch.manual_seed(1)
    network = ReconstructionNetwork(TINY)
    path = save_checkpoint(network, tmp_path / "model.pt", {"volumes": ["a.nii.gz"], "steps": 3})
    loaded, training = load_checkpoint(path)
    assert loaded.config == TINY and training == {"volumes": ["a.nii.gz"], "steps": 3}
    for name, tensor in network.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[name], tensor)
    assert not loaded.training  # ready for inference


def test_random_bytes_are_not_a_checkpoint(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(UserInputError, match=r"noise\.pt: not a PyTorch checkpoint"):
        load_checkpoint(path)
    with pytest.raises(UserInputError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")


class _Payload:
    def __reduce__(self):  # what a malicious checkpoint does: run code while being unpickled
        return (open, (str(_Payload.marker), "w"))


def test_pickle_carrying_code_is_refused_and_never_runs(tmp_path):
    _Payload.marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"format": checkpoint.FORMAT, "state_dict": _Payload()}, path)
    torch.load(path, weights_only=False)  # an unguarded load does run the payload ...
    assert _Payload.marker.exists()
    _Payload.marker.unlink()
    with pytest.raises(UserInputError, match=r"evil\.pt: holds Python objects besides weights"):
        load_checkpoint(path)
    assert not _Payload.marker.exists()
    path.write_bytes(pickle.dumps({"format": "x"}))  # a plain pickle, not a torch archive
    with pytest.raises(UserInputError, match=r"evil\.pt"):
        load_checkpoint(path)


def test_other_versions_and_other_files_are_refused(tmp_path, monkeypatch):
    network = ReconstructionNetwork(TINY)
    path = save_checkpoint(network, tmp_path / "old.pt")
    monkeypatch.setattr(checkpoint, "FORMAT_VERSION", 99)
    with pytest.raises(UserInputError, match=r"old\.pt: checkpoint format 1 .* reads format 99"):
        load_checkpoint(path)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(UserInputError, match="not a SparseLabel propagation checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


@pytest.mark.parametrize("damage, named", [(lambda p: p["config"].update(window=4), "odd number"),
                                           (lambda p: p.update(training=[1, 2]), "do not fit"),
                                           (lambda p: p["state_dict"].popitem(), "do not fit")])
def test_a_damaged_checkpoint_is_explained(tmp_path, damage, named):
    path = save_checkpoint(ReconstructionNetwork(TINY), tmp_path / "damaged.pt")
    payload = torch.load(path, weights_only=True)
    damage(payload)
    torch.save(payload, path)
    with pytest.raises(UserInputError, match=rf"damaged\.pt: .*{named}"):
        load_checkpoint(path)

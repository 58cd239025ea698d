"""A network adapted to a volume is used again when the same volume is propagated again, and only then."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sparselabel.propagation.training as training
from sparselabel.core import phantoms
from sparselabel.core.errors import CancelledError
from sparselabel.core.metrics import dice
from sparselabel.propagation.adapted_networks import Adaptation, AdaptedNetworks
from sparselabel.propagation.checkpoint import load_checkpoint, save_checkpoint, shipped_checkpoint
from sparselabel.propagation.one_slice import PropagationOptions, propagate_label

OPTIONS = PropagationOptions(adaptation_steps=4, device="cpu")


@pytest.fixture(scope="module")
def phantom():
    return phantoms.abdomen_volume(seed=3, shape=(24, 64, 64), spacing=(2.0, 2.0, 5.0))


def _drawn(label, value, *slices):
    drawn = np.zeros_like(label.array)
    for index in slices:
        drawn[index][label.array[index] == value] = value
    return label.with_array(drawn)


def _middle(label, value):
    present = np.flatnonzero((label.array == value).any((1, 2)))
    return int(present[len(present) // 2]), present


def test_propagating_the_same_volume_again_uses_the_adapted_network(phantom, monkeypatch):
    image, label = phantom
    anchor, present = _middle(label, 1)
    memory = AdaptedNetworks()
    first, record = propagate_label(image, _drawn(label, 1, anchor), OPTIONS, adapted=memory)
    assert not record["adaptation_reused"] and len(memory) == 1
    assert dice(first.array > 0, label.array == 1) > 0.8

    monkeypatch.setattr(training, "train_propagator", lambda *a, **k: pytest.fail("the network was adapted again"))
    again, record = propagate_label(image, _drawn(label, 1, anchor), OPTIONS, adapted=memory)
    assert record["adaptation_reused"]
    np.testing.assert_array_equal(again.array, first.array)  # nothing the user checked changes by itself

    corrected = _drawn(label, 1, anchor, int(present[-2]))  # a correction near the liver's end: one more anchor
    result, record = propagate_label(image, corrected, OPTIONS, adapted=memory)
    assert record["adaptation_reused"] and record["anchors"] == [anchor, int(present[-2])]
    np.testing.assert_array_equal(result.array[present[-2]], corrected.array[present[-2]])


def test_another_volume_step_count_network_or_brightness_gets_its_own_adaptation(phantom, tmp_path):
    image, label = phantom
    anchor, _ = _middle(label, 1)
    memory = AdaptedNetworks()
    propagate_label(image, _drawn(label, 1, anchor), OPTIONS, adapted=memory)
    changed = image.array.copy()
    changed[0, 0, 0] += 1
    _, record = propagate_label(image.with_array(changed), _drawn(label, 1, anchor), OPTIONS, adapted=memory)
    assert not record["adaptation_reused"]
    longer = PropagationOptions(adaptation_steps=5, device="cpu")
    _, record = propagate_label(image, _drawn(label, 1, anchor), longer, adapted=memory)
    assert not record["adaptation_reused"]
    other = tmp_path / "other.pt"  # another network (here: the shipped one, saved again with another record)
    save_checkpoint(load_checkpoint(shipped_checkpoint())[0], other, {"note": "another network"})
    _, record = propagate_label(image, _drawn(label, 1, anchor), PropagationOptions(
        model=other, adaptation_steps=4, device="cpu"), adapted=memory)
    assert not record["adaptation_reused"]
    spleen_anchor, _ = _middle(label, 2)  # brighter than the liver: another contrast window
    _, record = propagate_label(image, _drawn(label, 2, spleen_anchor), OPTIONS, adapted=memory)
    assert not record["adaptation_reused"]
    assert len(memory) == 4  # the capacity: the first adaptation has gone


def test_a_cancelled_adaptation_is_not_kept(phantom):
    image, label = phantom
    anchor, _ = _middle(label, 1)
    memory = AdaptedNetworks()
    with pytest.raises(CancelledError):
        propagate_label(image, _drawn(label, 1, anchor), OPTIONS, cancel=lambda: True, adapted=memory)
    assert len(memory) == 0


def test_a_window_fits_within_a_tenth_of_its_width_and_the_oldest_network_goes_first():
    volume = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    shipped = shipped_checkpoint()
    kept = Adaptation.of(volume, 0, (0.2, 0.6), shipped, 10)
    assert kept.fits(Adaptation.of(volume.copy(), 0, (0.23, 0.57), shipped, 10))
    assert not kept.fits(Adaptation.of(volume, 0, (0.26, 0.6), shipped, 10))
    assert not kept.fits(Adaptation.of(volume, 1, (0.2, 0.6), shipped, 10))
    assert not kept.fits(Adaptation.of(volume, 0, (0.2, 0.6), shipped, 20))
    assert not kept.fits(Adaptation.of(volume.astype(np.float64), 0, (0.2, 0.6), shipped, 10))
    memory = AdaptedNetworks(capacity=2)
    for index in range(3):
        memory.keep(Adaptation.of(volume + index, 0, (0.2, 0.6), shipped, 10), f"network {index}", {})
    assert memory.recall(Adaptation.of(volume, 0, (0.2, 0.6), shipped, 10)) is None
    assert memory.recall(Adaptation.of(volume + 2, 0, (0.2, 0.6), shipped, 10))[0] == "network 2"


def test_networks_kept_in_a_folder_serve_the_next_process(phantom, tmp_path, monkeypatch):
    image, label = phantom
    anchor, _ = _middle(label, 1)
    first, record = propagate_label(image, _drawn(label, 1, anchor), OPTIONS,
                                    adapted=AdaptedNetworks(folder=tmp_path / "cache"))
    assert not record["adaptation_reused"] and len(list((tmp_path / "cache").glob("*.pt"))) == 1

    monkeypatch.setattr(training, "train_propagator", lambda *a, **k: pytest.fail("the network was adapted again"))
    fresh = AdaptedNetworks(folder=tmp_path / "cache")  # as a new process finds the folder
    again, record = propagate_label(image, _drawn(label, 1, anchor), OPTIONS, adapted=fresh)
    assert record["adaptation_reused"] and record["adaptation_seconds"] > 0
    np.testing.assert_array_equal(again.array, first.array)


def test_the_folder_keeps_the_most_recently_used_networks_only(tmp_path):
    from sparselabel.propagation.reconstruction import ReconstructionConfig, ReconstructionNetwork

    network = ReconstructionNetwork(ReconstructionConfig())
    kept = AdaptedNetworks(capacity=2, folder=tmp_path)
    adaptations = [Adaptation(f"{n:032x}", 0, (0.0, 1.0), "a network", 10) for n in range(3)]
    kept.keep(adaptations[0], network, {"adaptation_steps": 10})
    kept.keep(adaptations[1], network, {"adaptation_steps": 10})
    assert AdaptedNetworks(capacity=2, folder=tmp_path).recall(adaptations[0]) is not None  # used: now the newest
    kept.keep(adaptations[2], network, {"adaptation_steps": 10})
    fresh = AdaptedNetworks(capacity=2, folder=tmp_path)
    assert fresh.recall(adaptations[1]) is None  # the least recently used went
    assert fresh.recall(adaptations[0]) is not None and fresh.recall(adaptations[2]) is not None
    assert len(list(tmp_path.glob("*.pt"))) == 2
    (tmp_path / "index.json").write_text("{damaged")
    assert AdaptedNetworks(capacity=2, folder=tmp_path).recall(adaptations[0]) is None  # a cache: adapt anew
    older = [{"adaptation": {"voxels": f"{0:032x}", "axis": 0, "window": [0.0, 1.0], "seconds": 60.0},
              "file": "old.pt", "record": {}}]  # an index written by a version that keyed on time budgets
    (tmp_path / "index.json").write_text(json.dumps(older))
    assert AdaptedNetworks(capacity=2, folder=tmp_path).recall(adaptations[0]) is None

"""OneSliceSeg end to end on phantoms: a network trained inside the test, baselines, axes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.image import Geometry, Image
from sparselabel.core.intensity import normalise
from sparselabel.core.metrics import dice
from sparselabel.propagation.checkpoint import save_checkpoint
from sparselabel.propagation.one_slice import (
    PropagationOptions,
    anchors_from_label,
    infer_axis,
    propagate_label,
    suggest_slice,
)
from sparselabel.propagation.reconstruction import NetworkStepper, segment_windows
from sparselabel.propagation.training import TrainingConfig, train_propagator
from sparselabel.propagation.verification import IntensityVerification
from sparselabel.propagation.walk import propagate


@pytest.fixture(scope="module")
def phantom():
    return phantoms.abdomen_volume(seed=7, shape=(28, 80, 80), spacing=(2.0, 2.0, 5.0))


@pytest.fixture(scope="module")
def trained(phantom):
    image, _ = phantom
    return train_propagator([normalise(image.array)], TrainingConfig(steps=120, crop=64, batch=4, seed=0))


def _one_slice(label, value, axis=0):
    mask = (label == value).astype(np.uint8)
    present = np.flatnonzero(np.moveaxis(mask, axis, 0).any((1, 2)))
    anchor = int(present[len(present) // 2])
    drawn = np.zeros_like(mask)
    np.moveaxis(drawn, axis, 0)[anchor] = np.moveaxis(mask, axis, 0)[anchor]
    return mask, anchor, drawn


def test_training_lowers_the_reconstruction_loss(trained):
    assert np.mean(trained.losses[-20:]) < 0.8 * np.mean(trained.losses[:20])


def test_tiny_network_trained_here_propagates_one_slice(phantom, trained):
    image, label = phantom
    mask, anchor, drawn = _one_slice(label.array, 1)
    result = propagate(normalise(image.array), {anchor: drawn[anchor]}, NetworkStepper(trained.network),
                       verification=IntensityVerification())
    assert dice(result.label > 0, mask) >= 0.9
    np.testing.assert_array_equal(result.label[anchor], drawn[anchor])


def test_two_segments_at_once_from_a_checkpoint(phantom, trained, tmp_path):
    image, label = phantom
    path = save_checkpoint(trained.network, tmp_path / "tiny.pt")
    liver, _, _ = _one_slice(label.array, 1)
    spleen_slices = np.flatnonzero((label.array == 2).any((1, 2)))
    anchor = int(spleen_slices[len(spleen_slices) // 2])
    drawn = np.zeros_like(label.array)
    drawn[anchor] = np.where(np.isin(label.array[anchor], (1, 2)), label.array[anchor], 0)
    result, record = propagate_label(image, label.with_array(drawn), PropagationOptions(model=path, device="cpu"))
    assert record["anchors"] == [anchor] and record["model"] == str(path)
    np.testing.assert_array_equal(result.array[anchor], drawn[anchor])
    assert dice(result.array == 1, liver) > 0.8
    assert dice(result.array == 2, label.array == 2) > 0.7


def test_each_segment_is_copied_over_a_window_sized_to_it(phantom, trained):
    image, label = phantom
    volume = normalise(image.array)
    anchor = int(np.flatnonzero((label.array == 2).any((1, 2)))[0]) + 2
    drawn = label.array[anchor]
    both = np.stack([~np.isin(drawn, (1, 2)), drawn == 1, drawn == 2]).astype(np.float32)
    # Scaled up so that, on this small phantom, the liver's window outgrows the trained one and the spleen's does not.
    stepper = NetworkStepper(trained.network, window_scale=4.0)
    windows = segment_windows(both, trained.network.stride, trained.network.config.window, 4.0, 49)
    assert windows[1] > windows[2] == trained.network.config.window  # the liver is the larger organ: it looks farther
    stepper.prepare(volume)
    together = stepper.step(anchor, anchor + 1, both)
    # Each segment travels as it would alone, over its own window.
    for index in (1, 2):
        alone = np.stack([1 - both[index], both[index]])
        np.testing.assert_allclose(together[index], stepper.step(anchor, anchor + 1, alone)[1], atol=1e-5)
    assert np.all(together >= 0) and np.all(together.sum(0) <= 1 + 1e-4)


def test_a_copy_across_several_slices_reaches_farther_than_a_step(trained):
    # A bright square drawn on slice 0 lies 40 pixels (10 cells) away on every later slice: out of the trained window's
    # reach (6 cells either side) for a step between neighbours, within it for the drawn slice copied three slices on.
    volume = np.zeros((4, 96, 96), np.float32)
    volume[0, 20:36, 20:36] = 1.0
    volume[1:, 20:36, 60:76] = 1.0
    drawn = np.stack([volume[0] == 0, volume[0] > 0]).astype(np.float32)
    stepper = NetworkStepper(trained.network)
    stepper.prepare(volume)
    moved = volume[1] > 0
    assert stepper.step(0, 1, drawn)[1][moved].mean() < 0.1
    assert stepper.step(0, 3, drawn)[1][moved].mean() > 0.9


def test_slices_beyond_a_structure_are_never_encoded_and_the_label_is_as_with_every_slice_encoded(phantom, trained):
    image, label = phantom
    volume = normalise(image.array)
    mask, anchor, drawn = _one_slice(label.array, 2)  # the spleen: slices 8 … 18 of 28
    lazy = NetworkStepper(trained.network, batch=2)
    result = propagate(volume, {anchor: drawn[anchor]}, lazy, verification=IntensityVerification())
    eager = NetworkStepper(trained.network)
    eager.prepare(volume)
    assert eager.all_features().shape[0] == len(volume)
    expected = propagate(volume, {anchor: drawn[anchor]}, eager, verification=IntensityVerification())
    np.testing.assert_array_equal(result.label, expected.label)
    assert dice(result.label > 0, mask) >= 0.8
    present = np.flatnonzero(mask.any((1, 2)))
    # The walk goes one slice past each end of the spleen, and encodes at most one more in passing.
    assert set(lazy.encoded_slices) <= set(range(present[0] - 2, present[-1] + 3))
    assert set(lazy.encoded_slices) >= set(range(present[0], present[-1] + 1))


def test_equal_voxels_in_another_array_keep_their_features_and_changed_voxels_do_not(phantom, trained):
    image, _ = phantom
    volume = normalise(image.array)
    stepper = NetworkStepper(trained.network)
    stepper.prepare(volume)
    stepper.all_features()
    stepper.prepare(volume.copy())  # another group of segments on slices coarsened again: the same voxels
    assert stepper.encoded_slices == list(range(len(volume)))
    changed = volume.copy()
    changed[3, 10, 10] += 0.5
    stepper.prepare(changed)
    assert stepper.encoded_slices == []


def test_raw_baseline_along_another_axis(phantom):
    image, label = phantom
    mask, anchor, drawn = _one_slice(label.array, 1, axis=1)
    assert infer_axis(drawn) == 1
    result, record = propagate_label(image, label.with_array(drawn), PropagationOptions(method="raw"))
    assert record["axis"] == 1 and record["anchors"] == [anchor]
    assert dice(result.array > 0, mask) > 0.7
    np.testing.assert_array_equal(result.array[:, anchor], drawn[:, anchor])


def test_segments_drawn_on_different_slices_keep_what_was_drawn(phantom):
    # The same structure named twice, on two slices: each segment's walk reaches the other's drawn slice.
    image, label = phantom
    liver = np.flatnonzero((label.array == 1).any((1, 2)))
    first, second = int(liver[len(liver) // 3]), int(liver[2 * len(liver) // 3])
    drawn = np.zeros_like(label.array)
    drawn[first] = np.where(label.array[first] == 1, 1, 0)
    drawn[second] = np.where(label.array[second] == 1, 2, 0)
    result, _ = propagate_label(image, label.with_array(drawn), PropagationOptions(method="copy"))
    for index in (first, second):
        painted = drawn[index] != 0
        np.testing.assert_array_equal(result.array[index][painted], drawn[index][painted])


def test_several_drawn_slices_are_all_anchors(phantom):
    _, label = phantom
    drawn = np.zeros_like(label.array)
    drawn[[6, 12, 20]] = label.array[[6, 12, 20]]
    assert sorted(anchors_from_label(drawn, 0)) == [k for k in (6, 12, 20) if drawn[k].any()]


def test_suggested_slice_lies_inside_the_range_given(phantom):
    image, label = phantom
    liver = np.flatnonzero((label.array == 1).any((1, 2)))
    chosen = suggest_slice(image, slice_range=(int(liver[0]), int(liver[-1])))
    assert liver[0] <= chosen <= liver[-1]
    assert 0 <= suggest_slice(image) < image.shape[0]
    with pytest.raises(UserInputError, match="slice range"):
        suggest_slice(image, slice_range=(5, 400))


def test_bad_volumes_and_labels_are_explained(phantom):
    image, label = phantom
    _, _, drawn = _one_slice(label.array, 1)
    with pytest.raises(UserInputError, match="every voxel has the value 7"):
        propagate_label(image.with_array(np.full(image.shape, 7, np.int16)), label.with_array(drawn),
                        PropagationOptions(method="copy"))
    nan = image.array.astype(np.float32)
    nan[3, 4, 5] = np.nan
    with pytest.raises(UserInputError, match="1 voxels are NaN"):
        propagate_label(image.with_array(nan), label.with_array(drawn), PropagationOptions(method="copy"))
    with pytest.raises(UserInputError, match="no slice is labelled"):
        propagate_label(image, label.with_array(np.zeros_like(drawn)), PropagationOptions(method="copy"))
    with pytest.raises(UserInputError, match="method 'magic': unknown"):
        PropagationOptions(method="magic")
    shifted = Image(drawn, Geometry(image.spacing, tuple(o + 10 for o in image.geometry.origin),
                                    image.geometry.direction))
    with pytest.raises(UserInputError, match="not lie on the volume's voxel grid: origin"):
        propagate_label(image, shifted, PropagationOptions(method="copy"))
    smaller = Image(drawn[:-1], image.geometry)
    with pytest.raises(UserInputError, match="voxel grid: size 80×80×27 vs 80×80×28 voxels"):
        propagate_label(image, smaller, PropagationOptions(method="copy"))


def test_training_volumes_skip_unreadable_files(phantom, tmp_path):
    from sparselabel.core.io import write_image
    from sparselabel.propagation.training import load_training_volumes

    image, _ = phantom
    write_image(image, tmp_path / "good.nii.gz")
    (tmp_path / "broken.nii.gz").write_bytes(b"not a volume")
    skipped = []
    volumes = load_training_volumes([tmp_path], skipped.append)
    assert [p.name for p, _ in volumes] == ["good.nii.gz"]
    assert volumes[0][1].max() <= 1.0 and len(skipped) == 1 and "broken.nii.gz" in skipped[0]
    (tmp_path / "good.nii.gz").unlink()
    with pytest.raises(UserInputError, match="no readable 3D volume"):
        load_training_volumes([tmp_path])


def test_training_runs_its_steps_repeats_itself_and_a_time_limit_only_cuts_it_short(phantom):
    volume = normalise(phantom[0].array)
    config = TrainingConfig(steps=5, crop=64, batch=2, seed=3)
    first, second = (train_propagator([volume], config) for _ in range(2))
    assert first.steps == second.steps == 5 and not first.limit_hit
    for name, weights in first.network.state_dict().items():
        assert torch.equal(weights, second.network.state_dict()[name]), name
    cut = train_propagator([volume], config.with_steps(100_000), time_limit=1.0)
    assert cut.limit_hit and 0 < cut.steps < 100_000


def test_the_default_propagation_uses_the_shipped_network_and_repeats_itself(phantom):
    image, label = phantom
    _, _, drawn = _one_slice(label.array, 1)
    runs = [propagate_label(image, label.with_array(drawn), PropagationOptions(device="cpu")) for _ in range(2)]
    assert runs[0][1]["model"] == "shipped" and "adaptation_steps" not in runs[0][1]
    np.testing.assert_array_equal(runs[0][0].array, runs[1][0].array)
    assert dice(runs[0][0].array == 1, label.array == 1) > 0.8

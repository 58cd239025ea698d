"""Window attention copies values from where the features match, within the window, in bounded memory."""

from __future__ import annotations

import pytest
import torch

from sparselabel.propagation.window_attention import window_attention


@pytest.fixture
def features():
    torch.manual_seed(0)
    return torch.randn(1, 16, 20, 24)


def test_identical_slices_copy_values_exactly(features):
    values = torch.rand(1, 3, 20, 24)
    copied = window_attention(features, features, values, window=5, temperature=1e-3)
    torch.testing.assert_close(copied, values)


def test_shifted_content_is_found_inside_the_window(features):
    values = torch.rand(1, 2, 20, 24)
    # The target is the reference moved 2 cells right and 1 down: each target cell must copy from its source.
    target = torch.roll(features, shifts=(1, 2), dims=(2, 3))
    expected = torch.roll(values, shifts=(1, 2), dims=(2, 3))
    copied = window_attention(target, features, values, window=7, temperature=1e-3)
    torch.testing.assert_close(copied[..., 1:, 2:], expected[..., 1:, 2:])


def test_motion_beyond_the_window_is_not_found(features):
    values = torch.arange(20 * 24, dtype=torch.float32).view(1, 1, 20, 24)
    target = torch.roll(features, shifts=5, dims=3)
    copied = window_attention(target, features, values, window=5, temperature=1e-3)
    # A 5×5 window reaches 2 cells: a 5-cell move cannot be copied from its true source.
    assert not torch.allclose(copied[..., 5:-2], torch.roll(values, 5, dims=3)[..., 5:-2])


def test_weights_are_a_convex_combination(features):
    values = torch.ones(1, 1, 20, 24)
    copied = window_attention(torch.randn_like(features), features, values, window=13, temperature=0.5)
    torch.testing.assert_close(copied, values)  # weights sum to one, also at borders (outside gets no weight)


def test_row_bands_give_the_same_answer_in_less_memory(features):
    values = torch.rand(1, 4, 20, 24)
    query = torch.randn_like(features)
    whole = window_attention(query, features, values, window=7)
    banded = window_attention(query, features, values, window=7, max_elements=49 * 24 * 3)  # 3 rows at a time
    torch.testing.assert_close(banded, whole)


def test_distance_similarity_for_raw_intensities():
    reference = torch.linspace(0, 1, 30).view(1, 1, 5, 6)
    values = torch.rand(1, 2, 5, 6)
    copied = window_attention(reference, reference, values, window=3, temperature=1e-5, similarity="distance")
    torch.testing.assert_close(copied, values)


def test_match_strength_is_higher_where_the_reference_holds_the_target(features):
    values = torch.rand(1, 2, 20, 24)
    elsewhere = torch.randn(1, 16, 20, 24, generator=torch.Generator().manual_seed(1))
    target = features.clone()
    target[..., :, 12:] = elsewhere[..., :, 12:]  # the right half is nowhere in the reference
    copied, strength = window_attention(target, features, values, window=5, temperature=0.1, strength=True)
    torch.testing.assert_close(copied, window_attention(target, features, values, window=5, temperature=0.1))
    assert strength.shape == (1, 20, 24)
    assert strength[..., :10].min() > strength[..., 14:].max() + 1
    assert strength[..., :10].mean() > strength[..., 14:].mean() + 3
    # Bounded memory gives the same strengths.
    _, banded = window_attention(target, features, values, window=5, temperature=0.1, strength=True,
                                 max_elements=5000)
    torch.testing.assert_close(banded, strength)


def test_bad_arguments_are_refused(features):
    with pytest.raises(ValueError, match="odd"):
        window_attention(features, features, features, window=4)
    with pytest.raises(ValueError, match="shapes do not match"):
        window_attention(features, features[..., :10], features)

"""The cohort map keeps groups apart, is reproducible, and places new scans without moving old ones."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core.errors import UserInputError
from sparselabel.selection.cohort_map import fit_map, perplexity_for


def _groups(per_group: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, (3, 64))
    embeddings = np.concatenate([c + rng.normal(0, 1, (per_group, 64)) for c in centres])
    return embeddings, np.repeat(np.arange(3), per_group)


def _separated(coordinates, truth) -> bool:
    """Every scan's nearest neighbour on the map belongs to its own group."""
    distances = ((coordinates[:, None] - coordinates[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return bool((truth[distances.argmin(1)] == truth).all())


@pytest.mark.parametrize(("per_group", "method"), [(20, "opentsne"), (4, "sklearn-tsne")])
def test_groups_stay_apart_and_the_same_seed_gives_the_same_map(per_group, method):
    embeddings, truth = _groups(per_group)
    first = fit_map(embeddings, seed=1)
    assert first.method == method and first.coordinates.shape == (len(embeddings), 2)
    assert _separated(first.coordinates, truth)
    np.testing.assert_allclose(fit_map(embeddings, seed=1).coordinates, first.coordinates)


def test_new_scans_land_near_their_group_and_old_ones_do_not_move():
    embeddings, truth = _groups(20)
    fitted = fit_map(embeddings[:-3], seed=0)
    before = fitted.coordinates.copy()
    placed = fitted.transform(embeddings[-3:])  # the last three belong to group 2
    np.testing.assert_array_equal(fitted.coordinates, before)
    centres = np.stack([before[truth[:-3] == g].mean(0) for g in range(3)])
    for point in placed:
        assert ((centres - point) ** 2).sum(1).argmin() == 2


def test_perplexity_scales_with_the_cohort_and_bad_input_is_refused():
    assert perplexity_for(1000) == 30 and perplexity_for(31) == 10 and perplexity_for(6) == 5
    with pytest.raises(UserInputError, match="at least two scans"):
        fit_map(np.zeros((1, 5)))
    with pytest.raises(UserInputError, match="not finite"):
        fit_map(np.array([[0.0, np.nan], [1.0, 2.0]]))


def test_a_large_cohort_is_mapped_through_landmarks_and_keeps_its_groups_apart():
    embeddings, truth = _groups(60)
    fitted = fit_map(embeddings.astype(np.float32), seed=0, fit_limit=50)  # 50 landmarks, 130 placed
    assert fitted.method == "opentsne-landmarks" and fitted.coordinates.shape == (180, 2)
    assert _separated(fitted.coordinates, truth)
    np.testing.assert_array_equal(fit_map(embeddings.astype(np.float32), seed=0, fit_limit=50).coordinates,
                                  fitted.coordinates)
    placed = fitted.transform(embeddings[:3])  # group 0: placed among group 0
    centres = np.stack([fitted.coordinates[truth == g].mean(0) for g in range(3)])
    assert all(((centres - point) ** 2).sum(1).argmin() == 0 for point in placed)


def test_a_saved_map_loads_as_it_was_and_only_for_its_embedder(tmp_path):
    from sparselabel.selection.cohort_map import load_map

    embeddings, _ = _groups(20)
    fitted = fit_map(embeddings, seed=0)
    names = [f"scan{i}" for i in range(len(embeddings))]
    path = fitted.save(tmp_path / "map.npz", names, "filterbank-v1")
    loaded, loaded_names = load_map(path, "filterbank-v1")
    assert loaded_names == names and loaded.method == "opentsne"
    np.testing.assert_array_equal(loaded.coordinates, fitted.coordinates)
    # Rebuilt from the saved arrays, it still places a group's scan with its group.
    point = loaded.transform(embeddings[-1:])[0]
    assert ((fitted.coordinates - point) ** 2).sum(1).argmin() >= 40  # the last 20 scans are group 2
    assert load_map(path, "pixels-v1") is None  # another embedder's map is not this one
    for damage in (b"not a map", path.read_bytes()[:200], b""):  # foreign, truncated, empty: fitted afresh
        (tmp_path / "broken.npz").write_bytes(damage)
        assert load_map(tmp_path / "broken.npz", "filterbank-v1") is None
    assert not list(tmp_path.glob(".map.npz*"))  # no temporary file left behind


def test_a_small_map_grown_large_enough_for_tsne_is_fitted_afresh():
    from sparselabel.selection.cohort_map import update_map

    embeddings, _ = _groups(6)  # 18 scans: the first 12 make a map too small for openTSNE
    names = [f"scan{i:02d}" for i in range(18)]
    first = update_map(None, names[:12], embeddings[:12], {}, log=lambda line: None)
    assert first.method == "sklearn-tsne"
    positions = {n: list(p) for n, p in zip(names, first.coordinates, strict=False)}
    messages = []
    grown = update_map((first, names[:12]), names, embeddings, positions, log=messages.append)
    assert grown.method == "opentsne" and "the cohort has grown large enough for t-SNE" in messages[0]
    assert "starting from the scans' known places" in messages[0]


def test_new_scans_join_a_landmark_map_against_its_landmarks_only():
    from sparselabel.selection.cohort_map import update_map

    embeddings, truth = _groups(60)
    fitted = fit_map(embeddings[:-6], seed=0, fit_limit=50)  # 174 scans: 50 landmarks, 124 placed
    names = [f"scan{i:03d}" for i in range(180)]
    positions = {n: list(p) for n, p in zip(names, fitted.coordinates, strict=False)}
    messages = []
    grown = update_map((fitted, names[:-6]), names, embeddings, positions, log=messages.append)
    assert "6 new scan(s) placed into the map of 174" in messages[0]
    assert grown.method == "opentsne-landmarks" and grown.anchors.sum() == 50 and not grown.anchors[-6:].any()
    np.testing.assert_array_equal(grown.coordinates[:-6], fitted.coordinates)
    centres = np.stack([fitted.coordinates[truth[:-6] == g].mean(0) for g in range(3)])
    assert all(((centres - point) ** 2).sum(1).argmin() == 2 for point in grown.coordinates[-6:])  # group 2's

"""Cold start and active-learning acquisition on synthetic cohort maps with known groups."""

from __future__ import annotations

import numpy as np
import pytest

from sparselabel.core.errors import UserInputError
from sparselabel.selection.acquisition import normalised_entropy, select
from sparselabel.selection.cold_start import cold_start, farthest_point_sampling, largest_remainder


@pytest.fixture
def groups():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [20, 0], [0, 20], [20, 20]], dtype=float)
    sizes = [40, 20, 10, 30]
    points = np.concatenate([c + rng.normal(0, 1.0, (n, 2)) for c, n in zip(centres, sizes, strict=True)])
    truth = np.repeat(np.arange(4), sizes)
    return points, truth


@pytest.mark.parametrize("k_rule", ["stability", "silhouette"])
def test_cold_start_covers_every_group_when_the_budget_allows(groups, k_rule):
    points, truth = groups
    result = cold_start(points, budget=8, seed=0, k_rule=k_rule)
    assert set(truth[result.picks]) == {0, 1, 2, 3}
    assert result.picks[:result.k] == result.medoids and len(set(result.picks)) == 8
    # Each cluster lies inside one group: groups may be split (the largest, reproducibly), never merged.
    assert all(len(set(truth[result.clusters == c])) == 1 for c in range(result.k))
    assert 4 <= result.k <= 5
    # The rest follows cluster size: the 40-scan group gets the most picks.
    assert np.bincount(truth[result.picks], minlength=4).argmax() == 0


def test_stability_finds_the_groups_that_silhouette_merges():
    """Two families of groups far apart: silhouette on the map reads them as 2 clusters, stability as the 6 groups."""
    from sklearn.metrics import adjusted_rand_score

    from sparselabel.selection.cold_start import cluster_map

    rng = np.random.default_rng(1)
    centres = np.array([[0, 0], [8, 0], [4, 7], [100, 0], [108, 0], [104, 7]], dtype=float)
    points = np.concatenate([c + rng.normal(0, 1.0, (25, 2)) for c in centres])
    truth = np.repeat(np.arange(6), 25)
    k_silhouette, by_silhouette, _ = cluster_map(points, 10, seed=0, k_rule="silhouette")
    k_stable, by_stability, scores = cluster_map(points, 10, seed=0)
    assert k_silhouette == 2 and k_stable == 6
    assert adjusted_rand_score(truth, by_stability) > 0.9 > adjusted_rand_score(truth, by_silhouette)
    assert scores[6] >= 0.8 > scores[7]
    with pytest.raises(UserInputError, match="k rule 'gap': unknown"):
        cluster_map(points, 10, k_rule="gap")


def test_same_seed_same_picks_and_labelled_scans_are_not_picked_again(groups):
    points, _ = groups
    assert cold_start(points, 6, seed=3).picks == cold_start(points, 6, seed=3).picks
    again = cold_start(points, 5, labelled=[0, 45], seed=0).picks
    assert not {0, 45} & set(again)


def test_budget_larger_than_the_unlabelled_scans_is_refused(groups):
    points, _ = groups
    with pytest.raises(UserInputError, match="budget 99 is larger than the 98 unlabelled scans"):
        cold_start(points, 99, labelled=[1, 2])


def test_largest_remainder_respects_proportions_and_capacity():
    assert largest_remainder(10, [50, 30, 20], [100, 100, 100]) == [5, 3, 2]
    assert largest_remainder(4, [1, 1, 1], [5, 5, 5]) in ([2, 1, 1], [1, 2, 1], [1, 1, 2])
    assert largest_remainder(6, [90, 5, 5], [2, 10, 10]) == [2, 2, 2]  # the big cluster is full


def test_farthest_point_sampling_spreads_out():
    points = np.array([[0, 0], [1, 0], [10, 0], [5, 0], [9, 0]], dtype=float)
    assert farthest_point_sampling(points, [0], range(5), 2) == [2, 3]
    spread = np.array([[0, 0], [1, 0], [10, 0], [0, 10], [5, 5]], dtype=float)
    assert farthest_point_sampling(spread, [], range(5), 3) == [1, 3, 2]  # nothing chosen: the medoid first


def test_entropy_is_normalised():
    assert normalised_entropy(np.full((2, 4, 4), 0.5)) == pytest.approx(1.0)
    assert normalised_entropy(np.full((3, 4, 4), 1 / 3)) == pytest.approx(1.0)
    certain = np.zeros((2, 4, 4))
    certain[0] = 1
    assert normalised_entropy(certain) == pytest.approx(0.0, abs=1e-9)


def test_alpha_one_takes_the_most_uncertain_and_alpha_zero_the_farthest():
    points = np.array([[0, 0], [1, 0], [2, 0], [30, 0], [3, 0]], dtype=float)
    entropies = [0.0, 0.1, 0.9, 0.2, 0.5]
    candidates = [1, 2, 3, 4]
    assert select(points, entropies, candidates, labelled=[0], budget=1, alpha=1.0)[0].index == 2
    assert select(points, entropies, candidates, labelled=[0], budget=1, alpha=0.0)[0].index == 3
    # Diversity is updated after each pick: a batch of two with α=0 does not take two neighbours.
    batch = [p.index for p in select(points, entropies, candidates, labelled=[0], budget=2, alpha=0.0)]
    assert batch == [3, 4]
    with pytest.raises(UserInputError, match="alpha"):
        select(points, entropies, candidates, [0], 1, alpha=1.5)


def test_typical_cold_start_keeps_the_groups_and_leaves_the_outliers(groups):
    points, truth = groups
    # One stray scan at the edge of each group: still its group's, far from its typical members.
    outliers = np.array([[-4.5, -4.5], [24.5, -4.5], [-4.5, 24.5], [24.5, 24.5]])
    everything = np.concatenate([points, outliers])
    plain = cold_start(everything, budget=12, seed=0)
    typical = cold_start(everything, budget=12, seed=0, typical=0.5)
    first_outlier = len(points)
    assert any(i >= first_outlier for i in plain.picks)  # farthest-point sampling reaches for the edges
    assert not any(i >= first_outlier for i in typical.picks)
    assert set(truth[typical.picks]) == {0, 1, 2, 3} and len(set(typical.picks)) == 12


def test_on_the_phantom_cohort_stability_recovers_more_of_the_groups_than_silhouette():
    """The built-in cohort's 4 groups, embedded and mapped as rank does: the paper's rule reads them as 2 clusters."""
    from sklearn.metrics import adjusted_rand_score

    from sparselabel.core import phantoms
    from sparselabel.selection.cohort_map import fit_map
    from sparselabel.selection.cold_start import cluster_map
    from sparselabel.selection.embedders import get_embedder

    cases = phantoms.chest_cohort(per_group=10, seed=0)
    points = fit_map(get_embedder("filterbank").embed([c.image for c in cases]), seed=0).coordinates
    truth = [c.group for c in cases]
    k_paper, by_paper, _ = cluster_map(points, 10, seed=0, k_rule="silhouette")
    k_stable, by_stability, _ = cluster_map(points, 10, seed=0)
    assert k_paper == 2 and k_stable >= 4
    assert adjusted_rand_score(truth, by_stability) > adjusted_rand_score(truth, by_paper) + 0.2

"""`sparselabel evaluate selection`: the paper's protocol on a small labelled cohort (the phantom chest images)."""

from __future__ import annotations

import json

import pytest

from sparselabel.cli import main
from sparselabel.core import phantoms


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    paths = phantoms.write_sample_data(tmp_path_factory.mktemp("selection"), per_group=8)
    return paths["cohort"], paths["cohort"] / "labels"


def test_report_follows_the_protocol(cohort, tmp_path, capsys):
    images, labels = cohort
    out = tmp_path / "selection.json"
    strategies = "random,kmeans,coldstart,coldstart@pixels,al,entropy,diversity"
    assert main(["evaluate", "selection", "--images", str(images), "--labels", str(labels), "--budgets", "6",
                 "--seeds", "2", "--test", "12", "--steps", "2", "--strategies", strategies,
                 "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["budgets"] == [6] and list(report["strategies"]) == strategies.split(",")
    for by_budget in report["strategies"].values():
        assert set(by_budget) == {"6"}
        for budget, scores in by_budget.items():
            assert set(scores["dice"]) == {"mean", "std"} and 0 <= scores["dice"]["mean"] <= 1
            assert scores["hd95"]["mean"] >= 0
            runs = scores["per_seed"]
            assert [r["seed"] for r in runs] == [0, 1] and all(len(r["picks"]) == int(budget) for r in runs)
    test_split = set(report["protocol"]["test"])
    assert len(test_split) == 12
    picked = {p for s in report["strategies"].values() for b in s.values() for r in b["per_seed"] for p in r["picks"]}
    assert not picked & test_split  # the test split is never selected from
    # Active strategies start from the same cold-start round: half the budget, the cold start's own first picks.
    for seed in (0, 1):
        first = [report["strategies"][name]["6"]["per_seed"][seed]["picks"][:3] for name in ("al", "entropy",
                                                                                              "diversity")]
        assert first[0] == first[1] == first[2]
    assert "coldstart@pixels" in capsys.readouterr().out


def test_bad_requests_are_explained(cohort, tmp_path, capsys):
    images, labels = cohort
    base = ["evaluate", "selection", "--images", str(images), "--labels", str(labels), "--steps", "1"]
    assert main([*base, "--strategies", "random,magic"]) == 2
    assert "strategy 'magic': unknown" in capsys.readouterr().err
    assert main([*base, "--budgets", "ten"]) == 2
    assert "--budgets 'ten'" in capsys.readouterr().err
    assert main([*base, "--test", "30", "--budgets", "4"]) == 2  # 32 images cannot hold 30 + more than 4
    assert "cannot hold a test split of 30" in capsys.readouterr().err

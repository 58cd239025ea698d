"""The OneSliceSeg commands as a user runs them: suggest a slice, propagate, train, evaluate — and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from sparselabel.cli import main
from sparselabel.core import phantoms
from sparselabel.core.image import Image
from sparselabel.core.io import read_label, read_volume, write_image
from sparselabel.core.metrics import dice


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder = tmp_path_factory.mktemp("case")
    image, label = phantoms.abdomen_volume(seed=3, shape=(20, 64, 64), spacing=(2.0, 2.0, 5.0))
    liver = np.flatnonzero((label.array == 1).any((1, 2)))
    anchor = int(liver[len(liver) // 2])
    drawn = np.zeros_like(label.array)
    drawn[anchor] = np.where(label.array[anchor] == 1, 1, 0)
    paths = {
        "volume": write_image(image, folder / "images" / "abdomen.nii.gz"),
        "truth": write_image(label, folder / "labels" / "abdomen.nii.gz"),
        "drawn": write_image(label.with_array(drawn), folder / "drawn.nii.gz"),
    }
    return paths, label, anchor


def test_suggest_slice_prints_a_slice_number(case, capsys):
    paths, _, _ = case
    assert main(["suggest-slice", str(paths["volume"]), "--range", "4:15"]) == 0
    captured = capsys.readouterr()
    assert 4 <= int(captured.out.strip()) <= 15
    assert "draw the structure on it" in captured.err


def test_suggest_slice_count_prints_that_many_distinct_slices_in_the_range(case, capsys):
    paths, _, _ = case
    assert main(["suggest-slice", str(paths["volume"]), "--range", "4:15", "--count", "3"]) == 0
    captured = capsys.readouterr()
    chosen = [int(line) for line in captured.out.split()]
    assert len(set(chosen)) == 3 and chosen == sorted(chosen) and all(4 <= k <= 15 for k in chosen)
    assert "draw the structure on them" in captured.err
    assert main(["suggest-slice", str(paths["volume"]), "--range", "4:5", "--count", "3"]) == 2
    assert "cannot choose 3 slices among 2" in capsys.readouterr().err


def test_propagate_writes_a_label_keeping_the_drawn_slice(case, tmp_path, capsys):
    paths, label, anchor = case
    out = tmp_path / "result.nii.gz"
    assert main(["propagate", str(paths["volume"]), str(paths["drawn"]), "--method", "raw", "--out", str(out)]) == 0
    result = read_label(out, read_volume(paths["volume"]))
    drawn = read_label(paths["drawn"], read_volume(paths["volume"]))
    np.testing.assert_array_equal(result.array[anchor], drawn.array[anchor])
    assert dice(result.array == 1, label.array == 1) > 0.7
    assert f"anchors: slices {anchor} along k" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(["propagate", str(paths["volume"]), str(paths["drawn"]), "--method", "raw", "--out", str(out)]) == 2
    assert out.read_bytes() == before


def test_train_then_propagate_with_the_checkpoint(case, tmp_path):
    paths, _, _ = case
    checkpoint = tmp_path / "net.pt"
    assert main(["train-propagator", str(paths["volume"].parent), "--steps", "3", "--out", str(checkpoint),
                 "--device", "cpu"]) == 0
    assert checkpoint.stat().st_size > 10_000
    out = tmp_path / "with-model.nii.gz"
    assert main(["propagate", str(paths["volume"]), str(paths["drawn"]), "--model", str(checkpoint),
                 "--out", str(out), "--device", "cpu"]) == 0
    assert out.is_file()


def test_evaluate_writes_the_report_with_the_documented_keys(case, tmp_path):
    paths, _, _ = case
    report_path = tmp_path / "report.json"
    assert main(["evaluate", "propagation", "--images", str(paths["volume"].parent), "--labels",
                 str(paths["truth"].parent), "--structure", "1,2", "--anchor", "largest", "--methods", "copy,raw",
                 "--json", str(report_path)]) == 0
    report = json.loads(report_path.read_text())
    assert report["cases"] == 1 and set(report["methods"]) == {"copy", "raw"}
    for summary in report["methods"].values():
        assert {"dice", "hd95", "assd", "ravd", "seconds_per_volume", "per_case"} <= set(summary)
        assert set(summary["dice"]) >= {"mean", "std"} and len(summary["per_case"]) == 2
    assert report["methods"]["raw"]["dice"]["mean"] > report["methods"]["copy"]["dice"]["mean"]


def test_evaluate_with_more_drawn_slices_scores_higher(case, tmp_path):
    paths, _, _ = case
    dice_by_slices = {}
    for slices in (1, 3):
        report_path = tmp_path / f"report-{slices}.json"
        assert main(["evaluate", "propagation", "--images", str(paths["volume"].parent), "--labels",
                     str(paths["truth"].parent), "--structure", "1", "--methods", "copy",
                     "--slices", str(slices), "--json", str(report_path)]) == 0
        report = json.loads(report_path.read_text())
        assert report["slices"] == slices
        assert len(report["methods"]["copy"]["per_case"][0]["anchor_slices"]) == slices
        dice_by_slices[slices] = report["methods"]["copy"]["dice"]["mean"]
    assert dice_by_slices[3] > dice_by_slices[1] + 0.05


@pytest.mark.parametrize("problem", ["2D image", "no slice labelled", "label on another grid", "random checkpoint",
                                     "every slice labelled"])
def test_bad_propagation_input_is_one_line_and_writes_nothing(problem, case, tmp_path, capsys):
    paths, label, _ = case
    volume, drawn = str(paths["volume"]), str(paths["drawn"])
    extra = []
    if problem == "2D image":
        write_image(phantoms.chest_cohort(per_group=1)[0].image, tmp_path / "xray.png")
        volume = str(tmp_path / "xray.png")
    elif problem == "no slice labelled":
        drawn = str(write_image(label.with_array(np.zeros_like(label.array)), tmp_path / "empty.nii.gz"))
    elif problem == "label on another grid":
        drawn = str(write_image(Image(label.array[:10], label.geometry), tmp_path / "short.nii.gz"))
    elif problem == "random checkpoint":
        (tmp_path / "noise.pt").write_bytes(torch.randint(0, 255, (5000,), dtype=torch.uint8).numpy().tobytes())
        extra = ["--model", str(tmp_path / "noise.pt")]
    elif problem == "every slice labelled":
        drawn = str(write_image(label.with_array((label.array == 1).astype(np.uint8) | 1), tmp_path / "all.nii.gz"))
    out = tmp_path / "never.nii.gz"
    assert main(["propagate", volume, drawn, "--out", str(out), "--device", "cpu", *extra]) == 2
    error = capsys.readouterr().err
    assert error.startswith("sparselabel: error: ") and error.count("\n") == 1
    assert not out.exists()

"""A cohort given as a list of scan paths becomes a project folder of links, kept up to date, never destructive."""

from __future__ import annotations

import pytest

from sparselabel.cli import main
from sparselabel.core import phantoms
from sparselabel.core.errors import UserInputError
from sparselabel.core.io import discover_images, write_image
from sparselabel.selection.cohort_list import link_cohort


@pytest.fixture
def scans(tmp_path):
    cases = phantoms.chest_cohort(per_group=2, seed=3)
    return [write_image(c.image, tmp_path / "archive" / f"site{i % 2}" / f"case{i}.png") for i, c in enumerate(cases)]


def test_rank_from_a_list(scans, tmp_path, capsys):
    listing = tmp_path / "archive" / "scans.txt"
    listing.write_text("# chest cohort\n" + "\n".join(str(p.relative_to(listing.parent)) for p in scans)
                       + "\nsite0/missing.png\n")
    project = tmp_path / "project"
    assert main(["rank", str(project), "--from-list", str(listing), "--budget", "3", "--out", str(tmp_path / "r")]) == 0
    assert "not a readable scan, skipped" in capsys.readouterr().err
    assert len(discover_images(project)) == len(scans) and (project / ".sparselabel" / "state.json").exists()
    # The list shrinks: its link goes, and the next round reports the scan as removed.
    listing.write_text("\n".join(str(p) for p in scans[1:]))
    assert main(["rank", str(project), "--from-list", str(listing), "--budget", "2", "--out", str(tmp_path / "r")]) == 0
    assert f"removed: {scans[0].stem}" in capsys.readouterr().err
    assert scans[0].exists()  # the scan itself is untouched


def test_bad_lists_are_refused_without_touching_files(scans, tmp_path):
    listing = tmp_path / "scans.txt"
    listing.write_text(f"{scans[0]}\n{scans[0].parent.parent / 'site1' / 'case0.png'}\n")
    write_image(phantoms.chest_cohort(per_group=1)[0].image, scans[0].parent.parent / "site1" / "case0.png")
    with pytest.raises(UserInputError, match="two scans are named 'case0'"):
        link_cohort(listing, tmp_path / "project")
    project = tmp_path / "mine"
    project.mkdir()
    (project / "case0.png").write_bytes(b"the user's own file")
    listing.write_text(f"{scans[0]}\n")
    with pytest.raises(UserInputError, match="exists and is not a link"):
        link_cohort(listing, project)
    assert (project / "case0.png").read_bytes() == b"the user's own file"
    listing.write_text("# nothing\n")
    with pytest.raises(UserInputError, match="lists no scans"):
        link_cohort(listing, project)

"""An ActiveSeg round becomes a worklist table and a clickable map on a real MRML scene (slicer-core)."""

from __future__ import annotations

import numpy as np

from sparselabel.selection.ranking import RankedScan
from sparselabel.slicer import mrml
from sparselabel.slicer.worklist_nodes import NEXT_COLOR, worklist_nodes


def test_round_as_table_and_chart(mrml_scene):
    names = ["a", "b", "c", "d", "e"]
    points = np.array([[0, 0], [1, 0], [10, 10], [11, 10], [5, 5]], dtype=float)
    worklist = [RankedScan("c", "next", 1, 1, 0.8, 0.9, 0.85), RankedScan("a", "next", 2, 0, 0.5, 0.4, 0.45),
                RankedScan("b", "unlabelled", cluster=0), RankedScan("e", "unlabelled", cluster=1),
                RankedScan("d", "labelled", cluster=1)]
    table, chart = worklist_nodes(mrml_scene, worklist, points, names)
    rows = mrml.rows_from_table_node(table)
    assert [r["scan"] for r in rows] == ["c", "a", "b", "e", "d"]
    assert rows[0]["rank"] == 1 and rows[0]["cluster"] == 2 and rows[0]["score"] == 0.85
    assert rows[0]["x"] == 10.0 and rows[2]["status"] == "unlabelled"
    assert table.GetLocked()  # the worklist table cannot be edited in the view
    assert table.GetUseColumnTitleAsColumnHeader()  # the names head the columns: view row i is scan i
    series = {chart.GetNthPlotSeriesNode(i).GetName(): chart.GetNthPlotSeriesNode(i)
              for i in range(chart.GetNumberOfPlotSeriesNodes())}
    assert list(series) == ["cluster 1", "cluster 2", "labelled", "next picks"]
    picks = series["next picks"]
    assert tuple(picks.GetColor()) == NEXT_COLOR and picks.GetLabelColumnName() == "scan"
    # A click on row k of a series maps back to that series' own table row.
    assert [r["scan"] for r in mrml.rows_from_table_node(picks.GetTableNode())] == ["c", "a"]
    assert chart.GetXAxisTitle() == "t-SNE 1"

"""ActiveSeg's round as Slicer nodes: the worklist as a table node, the cohort map as a scatter chart.

The chart has one series per cluster plus a ``labelled`` and a ``next picks`` series (Slicer colours a series,
not a point), each backed by its own table so that the row a user clicks in the plot view maps back to a scan;
scan names are the points' tooltips. Built through the MRML bridge, so it runs on any scene.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..selection.ranking import RankedScan
from . import mrml

LABELLED_COLOR = (0.1, 0.1, 0.1)
NEXT_COLOR = (0.84, 0.15, 0.16)


def worklist_rows(worklist: Sequence[RankedScan], points: np.ndarray, names: Sequence[str]) -> list[dict]:
    """Table rows in worklist order: rank (0 when not picked), scan, cluster (1-based), score parts, status, x, y."""
    position = {name: points[index] for index, name in enumerate(names)}
    return [{"rank": row.rank or 0, "scan": row.scan, "cluster": (row.cluster or 0) + 1,
             "entropy": np.nan if row.entropy is None else row.entropy,
             "diversity": np.nan if row.diversity is None else row.diversity,
             "score": np.nan if row.score is None else row.score, "status": row.status,
             "x": float(position[row.scan][0]), "y": float(position[row.scan][1])} for row in worklist]


def worklist_nodes(scene, worklist: Sequence[RankedScan], points: np.ndarray, names: Sequence[str],
                   name: str = "ActiveSeg"):
    """A table node (the worklist) and a plot chart node (the map) for one round; returns ``(table, chart)``."""
    rows = worklist_rows(worklist, points, names)
    table = mrml.table_node_from_rows(scene, rows, f"{name} worklist")
    table.SetLocked(True)  # the worklist is read, not edited: the round's scores come from the cohort's state
    table.SetUseColumnTitleAsColumnHeader(True)  # column names as the header: every view row is a scan
    series = {}
    for cluster in sorted({row["cluster"] for row in rows}):
        series[f"cluster {cluster}"] = [row for row in rows if row["cluster"] == cluster]
    labelled = [row for row in rows if row["status"] == "labelled"]
    if labelled:
        series["labelled"] = labelled
    picks = [row for row in rows if row["status"] == "next"]
    if picks:
        series["next picks"] = picks
    chart = mrml.scatter_chart(scene, series, "x", "y", f"{name} map", label_column="scan",
                               colors={"labelled": LABELLED_COLOR, "next picks": NEXT_COLOR},
                               x_title="t-SNE 1", y_title="t-SNE 2")
    return table, chart

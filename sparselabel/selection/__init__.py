"""ActiveSeg's science: which scans of a cohort to label first, and next.

:mod:`.ranking` is the entry point (one round: embed, map, pick, save the cohort's state); the embedders, the map,
the cold start, the acquisition score and the segmentation model are one file each, with the cohort's saved state
and the selection study beside them.

Imports ``sparselabel.core`` only: never ``propagation``, never ``slicer``.
"""

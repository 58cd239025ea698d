"""SparseLabel: cheap medical segmentation labels.

The shared logic of the ActiveSeg and OneSliceSeg Slicer modules and of the ``sparselabel`` command. Pure Python:
importing it never imports Slicer, Qt or torch; ``sparselabel.mrml`` is the one bridge to Slicer's MRML.
"""

__version__ = "0.1.0"

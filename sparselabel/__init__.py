"""SparseLabel: cheap medical segmentation labels.

The shared logic of the ActiveSeg and OneSliceSeg Slicer modules and of the ``sparselabel`` command, in rooms:

* ``core`` — what both workflows use: images and geometry, reading and writing, metrics, devices, sample data.
* ``propagation`` — OneSliceSeg's science: one drawn slice in, a 3D label out.
* ``selection`` — ActiveSeg's science: which scans of a cohort to label first, and next.
* ``slicer`` — the only code that knows Slicer: the MRML bridge, the panels' jobs, dependencies.
* ``cli`` — the ``sparselabel`` command, the engine both faces use.

``core`` imports none of the others; ``propagation`` and ``selection`` import ``core`` only; ``slicer`` and ``cli``
build on the three (``cli`` never on ``slicer``). Importing any of it never imports Slicer, Qt or torch.
"""

__version__ = "0.1.0"

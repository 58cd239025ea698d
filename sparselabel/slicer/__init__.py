"""The only code that knows Slicer exists: the MRML bridge, segments in and out of propagation, the worklist's
nodes, opening and saving scans for labelling, the panels' long work as ``sparselabel`` commands in child processes
(:mod:`.child_job`, :mod:`.jobs`) and the dependency set-up.

May import ``core``, ``propagation`` and ``selection``. Slicer, Qt and VTK are imported inside functions only, so
that this package imports (and is tested) without the Slicer application.
"""

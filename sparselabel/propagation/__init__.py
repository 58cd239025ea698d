"""OneSliceSeg's science: one drawn slice in, a 3D label out.

:mod:`.one_slice` is the entry point (suggest the slice to draw, propagate drawn slices); :mod:`.walk` walks the
volume slice by slice; the reconstruction network (:mod:`.slice_encoder`, :mod:`.window_attention`,
:mod:`.reconstruction`) is trained without labels (:mod:`.training`, saved by :mod:`.checkpoint`); the rest are the
walk's rules, its baselines and its evaluation.

Imports ``sparselabel.core`` only: never ``selection``, never ``slicer``.
"""

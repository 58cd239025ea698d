"""What both workflows share: images with their geometry, reading and writing them, atomic files, errors, metrics,
compute devices, content digests, colours and figures, the built-in sample data, intensity windows and the Gabor
filter bank.

Imports nothing else of ``sparselabel``: the rest of the package builds on it.
"""

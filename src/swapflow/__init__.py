"""swapflow: a face-swap pipeline whose stages are Snakemake rules.

The library holds all the image and video work; it knows nothing of paths
chosen by the workflow or of Snakemake objects.
"""

import os

__version__ = "0.1.0"

# The largest image swapflow decodes, in pixels (8192 x 8192). frames.read_image
# refuses a user's image above it from its header; OpenCV refuses any other at
# decode. OpenCV reads this once, when it is loaded, so it is set here.
MAX_IMAGE_PIXELS = 8192 * 8192
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))

# OpenMP threads that wait for work sleep at once instead of spinning first:
# torch's two threads on two cores then keep 0.54-0.58 of their speed beside a
# busy process instead of 0.33-0.36, with the same speed alone (benchmarks/contention.md). OpenMP reads it when
# torch is loaded, so it is set here; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

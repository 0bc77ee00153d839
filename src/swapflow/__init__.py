"""swapflow: a face-swap pipeline whose stages are Snakemake rules.

The library holds all the image and video work; it knows nothing of paths
chosen by the workflow or of Snakemake objects.
"""

__version__ = "0.1.0"

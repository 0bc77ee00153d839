from swapflow import video
from swapflow.io import log_to

log_to(snakemake.log[0])
cfg = snakemake.params.cfg
video.split(snakemake.input[0], snakemake.output.frames, snakemake.output.probe,
            frame_format=cfg["format"], png_compression=cfg["png_compression"],
            jpeg_quality=cfg["jpeg_quality"], stills_fps=cfg["stills_fps"])

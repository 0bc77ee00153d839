"""HD and long videos: extraction and convert + merge against their floors, and disk.

Usage: python benchmarks/hd.py [--size 1920x1080] [--frames 944] [--convert-frames 472]

Makes a clip from the woman demo clip, upscaled to ``--size`` and looped to
``--frames`` frames, then prints for each row swapflow's time, the floor's
(the least work that must be done, measured in the same run) and their ratio:

- extraction: split + detect (with landmarks) + align, as the rules run them,
  against decoding the clip plus the detector and the landmarker on each
  decoded frame (in memory, no files);
- convert + merge (first ``--convert-frames`` frames, lite model): against
  decoding the frames, cropping and swapping the faces with the same model,
  and encoding the frames with merge's codec settings;
- disk: the frames against their size as PNG (level 1, from a sample of
  frames), and what convert adds while a swap runs (deleted once merged);
  and what one frame costs to write and read as JPEG and as PNG.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from itertools import islice
from pathlib import Path

import numpy as np

from swapflow import demo, extract
from swapflow.mask import write_masks
from swapflow.geometry import warp
from swapflow.alignments import kept_faces, matrices
from swapflow.convert import convert_frames
from swapflow.curate import KEEP_ALL
from swapflow.frames import list_frames, spread
from swapflow.landmarks import make_landmarker
from swapflow.occlusion.hands import track_hands
from swapflow.settings import DetectConfig, MergeConfig
from swapflow.video.ffmpeg import ffmpeg_exe
from swapflow.video.merge import merge as merge_video
from swapflow.video.probe import Probe
from swapflow.video.read import decoded
from swapflow.video.split import split

REPO = Path(__file__).resolve().parents[1]
PNG_SAMPLE = 20  # frames encoded as PNG to estimate the PNG size of all


def make_clip(out: Path, size: str, frames: int) -> Path:
    """The woman demo clip scaled to ``size`` and looped to ``frames`` frames, with its audio."""
    source = demo.fetch(REPO / "resources" / "demo")[0]
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-stream_loop", "-1",
                    "-i", str(source), "-frames:v", str(frames), "-vf",
                    f"scale={size.replace('x', ':')}:flags=bicubic", "-c:v", "libx264",
                    "-crf", "18", "-preset", "veryfast", "-c:a", "aac", "-shortest", str(out)],
                   check=True)
    return out


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def size_of(folder: Path, new_only: bool = False) -> int:
    """Bytes of a folder's files (``new_only``: not counting hard links to other files)."""
    return sum(p.stat().st_size for p in folder.rglob("*")
               if p.is_file() and not (new_only and p.stat().st_nlink > 1))


def extraction(clip: Path, work: Path) -> tuple[float, float, object]:
    def ours():
        split(clip, work / "frames", work / "probe.json")
        raw = extract.extract_frames(list_frames(work / "frames"), {})
        return extract.align_faces(raw, {})

    def floor():
        d = DetectConfig()
        detector = extract.detector_for(d)
        landmarker = make_landmarker(d.landmarker)
        for image in decoded(clip):
            for box in detector.detect(image)[:d.max_faces]:
                landmarker.landmarks(image, np.array(box[:4]))

    base, _ = timed(floor)
    mine, alignments = timed(ours)
    return mine, base, alignments


def convert_merge(clip: Path, work: Path, alignments, frames: int) -> tuple[float, float, int]:
    from swapflow.train.config import compose_config

    from swapflow.train.model_io import load_model
    from swapflow.train.trainer import train
    faceset = work / "faceset"
    paths = list_frames(work / "frames")[:frames]
    alignments = alignments[alignments["frame"] < frames]
    write_masks(work / "masks.npz", extract.mask_frames(paths, alignments, {}))
    extract.build_faceset(paths, alignments, work / "masks.npz", faceset, {}, KEEP_ALL)
    cfg = compose_config(REPO / "config", "lite", ["iterations=2", "min_faces=2"])
    model = load_model(train(cfg, [faceset], [faceset], work / "model", work / "ckpt"))[0]
    probe = Probe.load(work / "probe.json")
    probe.frames, probe.timestamps = frames, probe.timestamps[:frames]
    merge = MergeConfig()
    converted = work / "converted"

    hands = track_hands(paths, alignments["frame"])  # rule hands' work, not convert's

    def ours():
        convert_frames(paths, alignments, model, converted, hands=hands)
        merge_video([converted], probe, work / "swapped.mp4", cfg=merge)

    def floor():
        kept = kept_faces(alignments)
        by_frame = dict(list(kept.groupby("frame")))
        encoder = subprocess.Popen(
            [ffmpeg_exe(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt",
             "rgb24", "-s", f"{probe.width}x{probe.height}", "-framerate", probe.fps, "-i",
             "pipe:", "-c:v", merge.codec, "-crf", str(merge.crf), "-preset", merge.preset,
             "-pix_fmt", merge.pix_fmt, str(work / "floor.mp4")], stdin=subprocess.PIPE)
        for i, image in enumerate(islice(decoded(clip), frames)):
            if i in by_frame:
                rows = by_frame[i]
                crops = np.stack([warp(image, m, int(s)) for m, s in
                                  zip(matrices(rows), rows["size"])])
                model.swap(crops, to="a")
            encoder.stdin.write(image.tobytes())
        encoder.stdin.close()
        encoder.wait()

    base, _ = timed(floor)
    mine, _ = timed(ours)
    return mine, base, size_of(converted, new_only=True)


def png_size(clip: Path, count: int, work: Path) -> int:
    """Estimated bytes of all frames as PNG (level 1): a spread sample, scaled up."""
    import cv2

    picks = set(spread(count, PNG_SAMPLE).tolist())
    sizes = [len(cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1])
             for i, image in enumerate(decoded(clip)) if i in picks]
    return int(np.mean(sizes) * count)


def formats(clip: Path) -> str:
    """Write and read time, size and PSNR of a frame as JPEG 95 and as PNG level 1
    (OpenCV, one thread, a spread sample of frames)."""
    import cv2

    cv2.setNumThreads(1)
    images = [cv2.cvtColor(image, cv2.COLOR_RGB2BGR) for i, image in enumerate(decoded(clip))
              if i % 25 == 0][:PNG_SAMPLE]
    parts = []
    for name, ext, params in (("JPEG 95", ".jpg", [cv2.IMWRITE_JPEG_QUALITY, 95]),
                              ("PNG 1", ".png", [cv2.IMWRITE_PNG_COMPRESSION, 1])):
        write, data = timed(lambda: [cv2.imencode(ext, im, params)[1] for im in images])
        read, back = timed(lambda: [cv2.imdecode(d, cv2.IMREAD_COLOR) for d in data])
        psnr = np.mean([cv2.PSNR(a, b) for a, b in zip(images, back)])
        parts.append(f"{name}: write {write / len(images) * 1e3:.1f} ms, read "
                     f"{read / len(images) * 1e3:.1f} ms, {np.mean([d.size for d in data]) / 1e3:.0f}"
                     f" kB" + (f", {psnr:.1f} dB" if psnr < 100 else ", lossless"))
    return "frame  " + "  ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--frames", type=int, default=944)
    parser.add_argument("--convert-frames", type=int, default=472)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        clip = make_clip(work / "clip.mp4", args.size, args.frames)
        print(formats(clip), flush=True)
        mine, base, alignments = extraction(clip, work)
        n = Probe.load(work / "probe.json").frames
        print(f"extraction  {n} frames {args.size}: swapflow {mine:7.1f} s ({mine / n * 1e3:.1f} "
              f"ms/frame)  floor {base:7.1f} s  ratio {mine / base:5.2f}", flush=True)
        m = min(args.convert_frames, n)
        mine, base, added = convert_merge(clip, work, alignments, m)
        print(f"convert+merge {m} frames: swapflow {mine:7.1f} s ({mine / m * 1e3:.1f} ms/frame)  "
              f"floor {base:7.1f} s  ratio {mine / base:5.2f}", flush=True)
        png, frames = png_size(clip, n, work), size_of(work / "frames")
        print(f"disk  video {clip.stat().st_size / 1e6:.0f} MB  frames as PNG {png / 1e6:.0f} MB  "
              f"frames {frames / 1e6:.0f} MB ({frames / png:.2f} x PNG)  convert adds "
              f"{added / 1e6:.0f} MB for {m} frames ({added / m * n / png:.2f} x PNG over the "
              f"whole video) until merged, nothing after", flush=True)


if __name__ == "__main__":
    main()

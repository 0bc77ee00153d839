"""faceswap's side of benchmarks/peers.py, run by faceswap's own Python with its checkout on the path.

``faces LIST.json OUT``: for each entry (``frame``: a frame file, ``landmarks``:
its 68 points in the frame, ``name``), the face as faceswap's extract writes
it: the head-centred 512 px crop made by its ``AlignedFace``, as a PNG with
faceswap's alignment header (``encode_image``), which its trainer reads.

``predict MODEL LIST.json OUT.npz``: each entry (plus ``side``) through that
side's decoder of the trained Original model, as faceswap's convert feeds it:
the face-centred crop at the model's input size and full coverage, BGR in
[0, 1]. Saves ``target`` and ``out`` (uint8 RGB) and ``matrix`` (frame to
crop, 2x3) for each entry.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, os.environ["FACESWAP"])
from lib.align import AlignedFace  # noqa: E402


def faces(entries: list[dict], out: Path) -> None:
    from lib.align.alignments import _VERSION
    from lib.align.objects import PNGAlignments, PNGHeader, PNGSource
    from lib.image import encode_image

    out.mkdir(parents=True, exist_ok=True)
    for e in entries:
        frame = cv2.imread(e["frame"], cv2.IMREAD_COLOR)
        points = np.asarray(e["landmarks"], np.float32)
        face = AlignedFace(points, image=frame, centering="head", size=512).face
        (x0, y0), (x1, y1) = np.floor(points.min(0)).astype(int), np.ceil(points.max(0)).astype(int)
        name = f"{e['name']}_0.png"
        header = PNGHeader(
            alignments=PNGAlignments(x=int(x0), y=int(y0), w=int(x1 - x0), h=int(y1 - y0), landmarks_xy=points),
            source=PNGSource(alignments_version=_VERSION, original_filename=name, face_index=0,
                             source_filename=Path(e["frame"]).name, source_is_video=False,
                             source_frame_dims=frame.shape[:2]))
        (out / name).write_bytes(encode_image(face, ".png", metadata=header))


def predict(model_dir: Path, entries: list[dict], out: Path) -> None:
    import keras

    for module in ("lib.model.initializers", "lib.model.layers", "lib.model.normalization"):
        importlib.import_module(module)  # registers faceswap's layers, which loading the model needs

    model = keras.models.load_model(model_dir / "original.keras", compile=False)
    encoder = model.get_layer("encoder")
    size = encoder.input_shape[1]
    targets, outs, matrices = [], [], []
    for e in entries:
        aligned = AlignedFace(np.asarray(e["landmarks"], np.float32), image=cv2.imread(e["frame"], cv2.IMREAD_COLOR),
                              centering="face", size=size, coverage_ratio=1.0, dtype="uint8")
        x = aligned.face[None].astype(np.float32) / 255
        y = keras.ops.convert_to_numpy(model.get_layer(f"decoder_{e['side']}")(encoder(x), training=False))
        y = y[0] if isinstance(y, (list, tuple)) else y
        targets.append(aligned.face[..., ::-1])
        outs.append((np.clip(y[0], 0, 1) * 255 + 0.5).astype(np.uint8)[..., ::-1])
        matrices.append(aligned.adjusted_matrix)
    np.savez(out, target=np.stack(targets), out=np.stack(outs), matrix=np.stack(matrices))


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    if command == "faces":
        faces(json.loads(Path(rest[0]).read_text()), Path(rest[1]))
    else:
        predict(Path(rest[0]), json.loads(Path(rest[1]).read_text()), Path(rest[2]))

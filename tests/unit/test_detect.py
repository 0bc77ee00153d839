from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import cv2
import numpy as np
import pandas as pd
import pytest

from swapflow.alignments import DROPPED, RAW_COLUMNS, read_alignments, read_shards, write_alignments
from swapflow.curate import counts
from swapflow.detectors import DETECTORS, make_detector, seen_scale
from swapflow.detectors.dlib_cnn import DlibCnnDetector, DlibCnnOptions
from swapflow.extract import align_faces, extract_frames
from swapflow.track import recover_faces
from swapflow.frames import list_frames, read_frame
from swapflow.io import InputError
from swapflow.schema import ConfigError
from swapflow.settings import CurateConfig


def _face_rate(table: pd.DataFrame) -> float:
    return table.groupby("frame")["face"].max().ge(0).mean()


def test_faces_found_in_both_clips(man, woman):
    assert man.raw["frame"].nunique() == len(man.frames)
    assert woman.raw["frame"].nunique() == len(woman.frames)
    assert _face_rate(man.raw) >= 0.95
    assert _face_rate(woman.raw) >= 0.95
    assert list(man.raw.columns) == list(RAW_COLUMNS)


def test_cartoon_has_no_face(cartoon_frames):
    table = extract_frames(cartoon_frames[::3], {})
    assert len(table) == len(cartoon_frames[::3])
    assert (table["face"] == -1).all() and table["x0"].isna().all()


def test_every_n_visits_multiples(man_frames):
    table = extract_frames(man_frames[:20], {"every_n": 5})
    assert sorted(table["frame"].unique()) == [0, 5, 10, 15]


def test_group_photo_faces(demo):
    boxes = make_detector("mediapipe", options={"range": "auto"}).detect(read_frame(demo / "multi_face.jpg"))
    assert len(boxes) == 5


@dataclass
class FixedOptions:
    section: ClassVar[str] = "extract.fixed"
    box: tuple[float, ...] = (0.0, 0.0, 1.0, 1.0)  # x0, y0, x1, y1, frame pixels


@DETECTORS.register("fixed")
class FixedDetector:
    """A detector plugin whole: a class with its options, registered by name."""

    Options = FixedOptions

    def __init__(self, threshold: float, min_size: float, options: FixedOptions) -> None:
        self.box = options.box

    def detect(self, image_rgb):
        return [(*self.box, 1.0)]


def test_a_detector_plugin_is_a_class_with_its_options(man):
    """The detect stage builds the detector the settings name with its options
    (here the man's own box: his landmarks follow), and refuses one it lacks."""
    first = man.raw.iloc[0]
    box = tuple(float(first[k]) for k in ("x0", "y0", "x1", "y1"))
    table = extract_frames(man.frames[:3], {"detector": "fixed", "options": {"box": box}})
    assert (table["face"] == 0).all() and (table[["x0", "y0", "x1", "y1"]].to_numpy() == box).all()
    own = man.raw[man.raw["frame"] < 3]
    moved = np.abs(np.asarray(table["landmarks"].iloc[0]) - np.asarray(own["landmarks"].iloc[0]))
    assert moved.max() < 0.05 * (box[2] - box[0])
    with pytest.raises(ConfigError, match="extract.fixed: unknown setting 'bx'"):
        extract_frames(man.frames[:1], {"detector": "fixed", "options": {"bx": box}})
    with pytest.raises(ValueError, match="unknown detector 'fixd'; choose from mediapipe, dlib-hog, dlib-cnn, fixed"):
        extract_frames(man.frames[:1], {"detector": "fixd"})


def test_dlib_hog_finds_frontal_face(man_frames):
    boxes = make_detector("dlib-hog").detect(read_frame(man_frames[0]))
    assert len(boxes) == 1 and 0.5 < boxes[0][4] <= 1


def test_corrupt_png_raises_naming_file(man_frames, tmp_path):
    bad = tmp_path / "000001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(InputError, match=str(bad)):
        extract_frames([man_frames[0], bad], {})


def test_list_frames_orders_by_index(tmp_path: Path):
    for i in (10, 2, 1000000):
        (tmp_path / f"{i:06d}.png").touch()
    (tmp_path / "notes.txt").touch()
    assert [p.stem for p in list_frames(tmp_path)] == ["000002", "000010", "1000000"]
    with pytest.raises(InputError, match="no frames"):
        list_frames(tmp_path / "..")
    empty = extract_frames([], {})
    assert empty.empty and list(empty.columns) == list(RAW_COLUMNS)


@pytest.mark.parametrize("shape, max_side, upsample", [((8192, 8192), 0, 0), ((720, 1280), 1280, 2),
                                                       ((360, 640), 0, 1), ((8192, 4096), 1280, 0)])
def test_a_detector_sees_no_more_pixels_than_its_memory_allows(shape, max_side, upsample):
    """max_side first, then as far as the pixels it works on allow: never larger
    than the frame, never past the bound, and unchanged where within it."""
    bound = 2048 * 2048
    scale = seen_scale(shape, max_side, upsample, bound)
    plain = min(1.0, max_side / max(shape)) if max_side else 1.0
    seen = shape[0] * shape[1] * scale ** 2 * 4 ** upsample
    assert scale <= plain <= 1.0 and seen <= bound * (1 + 1e-9)
    assert scale == plain if shape[0] * shape[1] * plain ** 2 * 4 ** upsample <= bound else seen == pytest.approx(bound)


def test_dlib_cnn_with_no_max_side_sees_what_its_memory_allows(demo, caplog):
    """max_side 0 on an 8192 px still ended in std::bad_alloc (about 1 KB a
    pixel): a picture beyond the pixels it may see (here 0.25 million, 4.2 in
    use) is seen scaled down, as if that picture were given (boxes back in
    frame pixels), said once."""
    options = DlibCnnOptions(max_side=0)
    large = cv2.resize(read_frame(demo / "single_face.jpg"), None, fx=4, fy=4, interpolation=cv2.INTER_LINEAR)
    scale = seen_scale(large.shape, 0, 0, 0.25e6)
    seen = cv2.resize(large, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    assert seen.shape[0] * seen.shape[1] <= 0.25e6
    detector = DlibCnnDetector(options=options, max_seen=0.25e6)
    with caplog.at_level("WARNING"):
        boxes = detector.detect(large)
        detector.detect(large[: large.shape[0] // 2])
    said = f"dlib-cnn: a {large.shape[1]}x{large.shape[0]} frame is seen at"
    assert caplog.text.count(said) == 1 and caplog.text.count("dlib-cnn: a ") == 1
    direct = DlibCnnDetector(options=options, max_seen=0.25e6).detect(seen)
    assert len(boxes) == len(direct) == 1
    assert np.array(boxes[0][:4]) == pytest.approx(np.array(direct[0][:4]) / scale)
    assert boxes[0][4] == direct[0][4]


def test_faces_beyond_max_faces_are_dropped_and_said(demo, tmp_path, caplog):
    """The group photo's 5 faces: max_faces 2 keeps the 2 highest scores and says
    which frames lost how many, in the log and the table's metadata (which the
    faceset's curation table shows); with no limit all 5 stay."""
    frames = []
    for i in range(3):
        frames.append(tmp_path / f"{i:06d}.png")
        cv2.imwrite(str(frames[-1]), cv2.imread(str(demo / ("multi_face.jpg" if i != 1 else "single_face.jpg"))))
    cfg = {"options": {"range": "auto"}}
    with caplog.at_level("WARNING"):
        two = extract_frames(frames, cfg | {"max_faces": 2})
    everyone = extract_frames(frames, cfg | {"max_faces": None})
    assert everyone.groupby("frame")["face"].max().tolist() == [4, 0, 4]
    assert two.groupby("frame")["face"].max().tolist() == [1, 0, 1]
    assert two.attrs[DROPPED] == [[0, 3], [2, 3]] and everyone.attrs[DROPPED] == []
    assert "max_faces 2: 6 faces found beyond it dropped in 2 frames: 0 (3), 2 (3)" in caplog.text
    kept = everyone[everyone["frame"] == 0].nlargest(2, "score")[["x0", "y0"]].to_numpy()
    assert np.array_equal(two[two["frame"] == 0][["x0", "y0"]].to_numpy(), kept)
    # the shards' record reaches the alignments and the curation table
    for i, table in enumerate((two.iloc[:2], two.iloc[2:])):
        part = table.copy()
        part.attrs = {DROPPED: [d for d in two.attrs[DROPPED] if (d[0] < 1) == (i == 0)]}
        part.to_parquet(tmp_path / f"{i}.parquet", index=False)
    joined = read_shards([tmp_path / "0.parquet", tmp_path / "1.parquet"])
    assert joined.attrs[DROPPED] == [[0, 3], [2, 3]]
    aligned = align_faces(recover_faces(joined, frames, track={"max_gap": 0, "search": 0}))
    write_alignments(tmp_path / "align.parquet", aligned, 3, 572, 562)
    record = pd.DataFrame({"removed": []})
    record.attrs = {DROPPED: read_alignments(tmp_path / "align.parquet").attrs[DROPPED]}
    row = counts(record, CurateConfig()).iloc[0]
    assert (row["filter"], row["removed"]) == ("max_faces", 6) and row["setting"].endswith("0 (3), 2 (3)")

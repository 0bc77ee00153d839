"""Convert: shards give the frames of one run, faceless frames are the originals,
and only the face changes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from swapflow.alignments import kept_faces
from swapflow.convert import convert_frames, plan_convert
from swapflow.frames import frame_name, list_frames, read_frame, write_frame
from swapflow.io import read_json
from swapflow.settings import FramesConfig
from tests.training import DF256_SMALL, lite_model


@pytest.fixture(scope="module")
def model(man, woman, tmp_path_factory):
    """A lite model trained 30 iterations: enough that on the CPU a face comes out
    a level apart in a few pixels when run in a batch of another make-up."""
    return lite_model(tmp_path_factory.mktemp("convert"), woman, man, 30)


@pytest.fixture(scope="module")
def model256(man, woman, tmp_path_factory):
    """The 256 px preset at a CPU's scale, 4 iterations: what convert does at 256 px."""
    return lite_model(tmp_path_factory.mktemp("convert256"), woman, man, 4, "df256", DF256_SMALL)


def test_a_shard_plans_whole_batches_of_the_video(man):
    """The plan alone (no frame read): a shard's batches are batches of the whole
    video's, hold every face of the shard, and read frames beyond it."""
    alignments = man.alignments.copy()
    alignments.loc[alignments["frame"].isin([11, 12]), "keep"] = False
    whole = plan_convert(man.frames, alignments, batch_size=4)
    shard = plan_convert(man.frames[10:21], alignments, batch_size=4, video_frames=man.frames)
    assert shard.faces.equals(whole.faces) and shard.last == whole.last
    assert shard.batches and set(map(tuple, shard.batches)) < set(map(tuple, whole.batches))
    mine = [k for k, frame in enumerate(shard.faces["frame"]) if frame in shard.mine]
    assert set(mine) <= {k for batch in shard.batches for k in batch}
    assert all(len(batch) == 4 or batch.stop == len(whole.faces) for batch in shard.batches)
    assert shard.unchanged == [11, 12]
    assert sorted(set(kept_faces(alignments)["frame"]) & set(shard.mine)) == sorted(set(shard.mine) - {11, 12})
    read = {shard.faces["frame"][k] for batch in shard.batches for k in batch}
    assert read - set(shard.mine) and read <= set(shard.paths)


def test_shards_equal_one_run_and_faceless_frames_are_the_originals(man, model, tmp_path):
    alignments = man.alignments.copy()
    alignments.loc[alignments["frame"].isin([5, 6, 20]), "keep"] = False
    # frames 17 and 18 show a second face (a copy of the first): in batches of 16
    # faces (the default), frame 17's two faces fall in two batches
    second = alignments[alignments["frame"].isin([17, 18])].assign(face=1)
    alignments = pd.concat([alignments, second], ignore_index=True)
    settings = {"patches": True}
    whole = convert_frames(man.frames, alignments, model, tmp_path / "whole", cfg=settings,
                           patches_dir=tmp_path / "patches")
    # shards cut across the model's batches, one of a single frame; as in rule
    # convert, each shard sees the video's frames
    cuts = [0, 5, 6, 19, 36]
    for n, (start, end) in enumerate(zip(cuts, cuts[1:])):
        convert_frames(man.frames[start:end], alignments, model, tmp_path / f"shard{n}", cfg=settings,
                       patches_dir=tmp_path / f"patches{n}", video_frames=man.frames)
    sharded = sorted((f for n in range(len(cuts) - 1) for f in list_frames(tmp_path / f"shard{n}")),
                     key=lambda f: f.name)
    assert [f.name for f in sharded] == [f.name for f in list_frames(tmp_path / "whole")]
    for one, cut in zip(list_frames(tmp_path / "whole"), sharded):
        assert one.read_bytes() == cut.read_bytes(), f"frame {one.name} differs when sharded"
    assert whole["swapped_frames"] == 33 and whole["swapped_faces"] == 35
    # the shard's own frames count among the video's even where video_frames leaves them out
    convert_frames(man.frames[30:], alignments, model, tmp_path / "tail", cfg=settings,
                   patches_dir=tmp_path / "tail_patches", video_frames=man.frames[:30])
    for cut in list_frames(tmp_path / "tail"):
        assert cut.read_bytes() == (tmp_path / "whole" / cut.name).read_bytes(), cut.name
    for frame in (5, 6, 20):
        original, converted = man.frames[frame], tmp_path / "whole" / man.frames[frame].name
        assert converted.read_bytes() == original.read_bytes()
        assert os.path.samefile(original, converted), "a faceless frame should be a link, not a copy"
    index = read_json(tmp_path / "patches" / "index.json")
    assert len(index) == 35 and all((tmp_path / "patches" / p["file"]).exists() for p in index)
    assert sum(len(read_json(tmp_path / f"patches{n}" / "index.json")) for n in (0, 2, 3)) == 35
    # the swapped face squares are lossless: the same to the last level
    for n in (0, 2, 3):
        for patch in read_json(tmp_path / f"patches{n}" / "index.json"):
            cut, one = tmp_path / f"patches{n}" / patch["file"], tmp_path / "patches" / patch["file"]
            assert cut.read_bytes() == one.read_bytes(), f"face {patch['file']} differs when sharded"
    assert not (tmp_path / "patches1" / "index.json").exists(), "shard 1 holds no swapped face"


@pytest.mark.parametrize("name", ["model", "model256"])
def test_with_png_frames_only_the_face_changes(man, name, request, tmp_path):
    """Lossless frames: every pixel away from the swapped faces is the original's; a
    64 px model and a 256 px one."""
    model = request.getfixturevalue(name)
    (tmp_path / "png").mkdir()
    png = FramesConfig(format="png")
    for path in man.frames[:6]:
        write_frame(tmp_path / "png" / f"{path.stem}.png", read_frame(path), png)
    convert_frames(list_frames(tmp_path / "png"), man.alignments, model, tmp_path / "out", frames=png)
    for row in man.alignments[man.alignments["frame"] < 6].itertuples():
        before = read_frame(tmp_path / "png" / frame_name(row.frame, "png")).astype(int)
        after = read_frame(tmp_path / "out" / frame_name(row.frame, "png")).astype(int)
        changed = np.abs(after - before).max(axis=2) > 0
        ys, xs = np.nonzero(changed)
        w, h = row.x1 - row.x0, row.y1 - row.y0
        assert len(ys) > 0.2 * w * h, f"frame {row.frame}: the face was not swapped"
        assert (xs.min() >= row.x0 - w and xs.max() <= row.x1 + w and ys.min() >= row.y0 - h
                and ys.max() <= row.y1 + h), f"frame {row.frame}: pixels far from the face changed"


def test_an_occlusion_source_the_model_cannot_serve_stops_before_any_frame(man, model, tmp_path):
    """``learned`` needs a model that learns a mask: the lite model does not, so convert
    stops naming the source and writes nothing; a source's unknown setting is named too."""
    with pytest.raises(ValueError, match="convert.occlusion has 'learned' but the model predicts no mask"):
        convert_frames(man.frames[:3], man.alignments, model, tmp_path / "out", cfg={"occlusion": ["learned"]})
    with pytest.raises(ValueError, match="convert.skin: unknown setting 'thresh'"):
        convert_frames(man.frames[:3], man.alignments, model, tmp_path / "out",
                       cfg={"occlusion": ["skin"], "sources": {"skin": {"thresh": 2.0}}})
    assert not (tmp_path / "out").exists()

"""Convert in shards: any cut of a video's frames gives the frames of one whole run."""

from __future__ import annotations

import os
from pathlib import Path

from swapflow.convert import convert_frames
from swapflow.frames import list_frames
from swapflow.io import read_json
from swapflow.train import compose_config, load_model, train

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_shards_equal_one_run_and_faceless_frames_are_the_originals(man, woman, tmp_path):
    cfg = compose_config(CONFIG, "lite", ["iterations=2", "batch_size=4", "min_faces=10",
                                          "log_every_s=0", "data.workers=1"])
    model = load_model(train(cfg, [woman.faceset], [man.faceset], tmp_path / "model",
                             tmp_path / "ckpt", threads=2))[0]
    alignments = man.alignments.copy()
    alignments.loc[alignments["frame"].isin([5, 6, 20]), "keep"] = False
    settings = {"batch_size": 8, "patches": True}
    whole = convert_frames(man.frames, alignments, model, tmp_path / "whole", settings,
                           patches_dir=tmp_path / "patches")
    # shards cut across the model's batches, one of a single frame
    cuts = [0, 5, 6, 19, 36]
    for n, (start, end) in enumerate(zip(cuts, cuts[1:])):
        convert_frames(man.frames[start:end], alignments, model, tmp_path / f"shard{n}", settings,
                       patches_dir=tmp_path / f"patches{n}")
    sharded = sorted((f for n in range(len(cuts) - 1) for f in list_frames(tmp_path / f"shard{n}")),
                     key=lambda f: f.name)
    assert [f.name for f in sharded] == [f.name for f in list_frames(tmp_path / "whole")]
    for one, cut in zip(list_frames(tmp_path / "whole"), sharded):
        assert one.read_bytes() == cut.read_bytes(), f"frame {one.name} differs when sharded"
    assert whole["swapped_frames"] == 33
    for frame in (5, 6, 20):
        original, converted = man.frames[frame], tmp_path / "whole" / man.frames[frame].name
        assert converted.read_bytes() == original.read_bytes()
        assert os.path.samefile(original, converted), "a faceless frame should be a link, not a copy"
    index = read_json(tmp_path / "patches" / "index.json")
    assert len(index) == 33 and all((tmp_path / "patches" / p["file"]).exists() for p in index)
    assert sum(len(read_json(tmp_path / f"patches{n}" / "index.json")) for n in (0, 2, 3)) == 33
    assert not (tmp_path / "patches1" / "index.json").exists(), "shard 1 holds no swapped face"

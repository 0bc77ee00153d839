"""The plan of a config, without Snakemake: which swaps share a model (named by what
it trains on, by content, and with), the names of a swap's outputs, and the settings
each stage reads."""

from __future__ import annotations

import copy
import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from swapflow.config import load_schema, validate_config
from swapflow.grid import expand_experiments
from swapflow.plan import Plan
from swapflow.settings import ConvertConfig, TrainJobConfig
from swapflow.schema import ConfigError
from swapflow.train.config import compose_config

from tests.conftest import REPO

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def compose(preset: str, overrides: tuple[str, ...]) -> dict:
    return OmegaConf.to_container(compose_config(REPO / "config", preset, list(overrides)), resolve=True)


@pytest.fixture
def clips(tmp_path, demo_dir) -> dict[str, str]:
    """Two clips of the demo in a folder of their own."""
    paths = {}
    for name, clip in (("alice", "WolfgangLanger_Pexels.mp4"), ("bob", "single_face.mp4")):
        paths[name] = str(shutil.copy(demo_dir / clip, tmp_path / f"{name}.mp4"))
    return paths


def plan(clips: dict[str, str], **sections) -> Plan:
    """The plan of a config as the workflow validates it: two identities of one clip
    each, the swaps given (default: one), defaults filled in, experiments expanded."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config |= {"videos": dict(clips), "identities": {name: {"videos": [name]} for name in clips},
               "swaps": [{"name": "a_on_b", "face": "alice", "target": "bob"}]}
    config |= copy.deepcopy(sections)
    validate_config(config, SCHEMA)
    expand_experiments(config, SCHEMA)
    return Plan(config, compose)


def test_swaps_differing_after_training_share_a_model(clips):
    p = plan(clips, swaps=[{"name": "rct", "face": "alice", "target": "bob"},
                           {"name": "hist", "face": "alice", "target": "bob", "convert": {"color": "histogram"},
                            "merge": {"crf": 30}},
                           {"name": "long", "face": "alice", "target": "bob", "train": {"iterations": 8000}},
                           {"name": "back", "face": "bob", "target": "alice"}])
    assert p.swap_model["rct"] == p.swap_model["hist"]
    assert len({p.swap_model[s] for s in ("rct", "long", "back")}) == 3
    assert p.models[p.swap_model["rct"]]["swaps"] == ["rct", "hist"]
    assert p.models[p.swap_model["back"]]["identities"] == ("bob", "alice")
    assert p.swap_model["rct"].startswith("alice-bob-lite-")
    assert p.models[p.swap_model["long"]]["config"]["iterations"] == 8000


def test_a_model_is_named_by_content_and_faceset_settings(clips, tmp_path):
    """The same bytes under another file name train the same model; other bytes, or a
    setting that shapes a faceset, a new one; a setting after training, none."""
    name = plan(clips).swap_model["a_on_b"]
    moved = {"alice": str(shutil.copy(clips["alice"], tmp_path / "renamed.mp4")), "bob": clips["bob"]}
    assert plan(moved).swap_model["a_on_b"] == name
    Path(moved["alice"]).write_bytes(Path(clips["alice"]).read_bytes() + b"\0")
    assert plan(moved).swap_model["a_on_b"] != name
    assert plan(clips, curate={"blur": 0.4}).swap_model["a_on_b"] != name
    assert plan(clips, frames={"jpeg_quality": 90}).swap_model["a_on_b"] != name
    assert plan(clips, frames={"png_compression": 3}).swap_model["a_on_b"] == name  # jpg frames: unread
    assert plan(clips, convert={"color": "none"}, evaluate={"swap_faces": 5}).swap_model["a_on_b"] == name


def test_names_of_a_swaps_outputs(clips):
    p = plan(clips, swaps=[{"name": "one", "face": "alice", "target": "bob"},
                           {"name": "two", "face": "alice", "target": "bob", "videos": ["bob", "alice"]}])
    assert p.swap_video_names() == ["one/bob", "two/bob", "two/alice"]
    # one coverage per face identity and video, whichever swap asks
    assert p.coverage_file("one/bob", ".png") == p.coverage_file("two/bob", ".png") == "results/coverage/alice/bob.png"
    assert p.swap_identities("two") == ("alice", "bob")
    assert p.training_videos() == ["alice", "bob"]


def test_a_swaps_own_settings_go_on_top(clips):
    p = plan(clips, train={"overrides": ["seed=3"]},
             swaps=[{"name": "own", "face": "alice", "target": "bob", "convert": {"color": "none"},
                     "train": {"overrides": ["batch_size=8"]}}])
    assert p.settings(ConvertConfig, "own")["color"] == "none"
    assert p.settings(ConvertConfig)["color"] == "rct"
    assert p.settings(ConvertConfig, "passthrough") == p.settings(ConvertConfig)
    assert p.settings(TrainJobConfig, "own")["overrides"] == ["seed=3", "batch_size=8"]
    cfg = p.models[p.swap_model["own"]]["config"]
    assert (cfg["seed"], cfg["batch_size"]) == (3, 8)


def test_experiment_points_that_train_alike_share_a_model(clips):
    p = plan(clips, experiments=[{"name": "e", "swap": "a_on_b", "seeds": [0, 1],
                                  "grid": {"convert.color": ["rct", "none"], "train.iterations": [100, 200]}}])
    points = [s["name"] for s in p.config["swaps"] if "experiment" in s]
    assert len(points) == 8 and len({p.swap_model[s] for s in points}) == 4


def test_a_bad_training_setting_names_the_swap(clips):
    with pytest.raises(ConfigError, match=r"swaps\.odd\.train: .*batch_size"):
        plan(clips, swaps=[{"name": "odd", "face": "alice", "target": "bob",
                            "train": {"overrides": ["batch_size=0"]}}])
    with pytest.raises(ConfigError, match=r"swaps\.split\.train: batch_size 16 does not split evenly over 3"):
        plan(clips, swaps=[{"name": "split", "face": "alice", "target": "bob", "train": {"gpus": 3}}])


def test_convert_reads_the_settings_of_the_chosen_occlusion_sources_only(clips):
    """A source's own settings (``convert.<source>``) reach convert where the swap uses the
    source, the swap's own on top; another source's never do (changing them reruns nothing),
    and rule hands reads only the confidence."""
    config = {"convert": {"occlusion": ["hands", "reconstruction"], "skin": {"threshold": 2.0}},
              "swaps": [{"name": "a_on_b", "face": "alice", "target": "bob",
                         "convert": {"reconstruction": {"frames": 0}}}]}
    p = plan(clips, **config)
    sources = p.convert_settings("a_on_b")["sources"]
    assert sources == {"hands": {"dilate": 0.25, "confidence": 0.5},
                       "reconstruction": {"threshold": 3.0, "usual": "model", "frames": 0}}
    assert p.swap_settings("a_on_b")["convert"]["reconstruction"]["frames"] == 0
    assert p.hand_tracking() == {"confidence": 0.5}
    assert ConvertConfig(**p.convert_settings("a_on_b")).sources == sources  # what rule convert passes


def _from(name: str, source: str, face: str = "alice", target: str = "bob", **train) -> dict:
    return {"name": name, "face": face, "target": target, "train": {"start_from": source, **train}}


def test_a_model_started_from_another_is_named_by_it(clips):
    """A swap's model that starts from another swap's is planned after it, named by it
    (a changed source renames it), and by how long its encoder stays frozen; the start
    says where the source's folder is, for rule train's input."""
    base = {"name": "a_on_b", "face": "alice", "target": "bob"}
    swaps = [_from("back", "a_on_b", "bob", "alice"), base]
    p = plan(clips, swaps=swaps)
    source, back = p.swap_model["a_on_b"], p.swap_model["back"]
    assert p.models[back]["start"] == {"model": source, "folder": f"results/model/{source}", "digest": source,
                                       "identities": ["alice", "bob"], "freeze_encoder": 0}
    assert p.models[source]["start"] is None
    assert back != plan(clips, swaps=[base, {"name": "back", "face": "bob", "target": "alice"}]).swap_model["back"]
    longer = plan(clips, swaps=[swaps[0], base | {"train": {"iterations": 5000}}])
    assert longer.swap_model["back"] != back and longer.models[longer.swap_model["back"]]["start"]["model"] != source
    frozen = plan(clips, swaps=[_from("back", "a_on_b", "bob", "alice", freeze_encoder=100), base])
    assert frozen.swap_model["back"] != back
    by_name = plan(clips, swaps=[_from("back", source, "bob", "alice"), base])
    assert by_name.swap_model["back"] == back   # the model's name, as the source swap's


@pytest.mark.parametrize("swaps, message", [
    ([_from("x", "y"), _from("y", "x")], r"swaps\.\w\.train\.start_from: a cycle: (x -> y -> x|y -> x -> y)"),
    ([_from("x", "x")], r"swaps\.x\.train\.start_from: a cycle: x -> x"),
    ([_from("x", "nowhere")], r"swaps\.x\.train\.start_from: 'nowhere' is no swap of this config and no "
                              r"finished model \(results/model/nowhere: no trained model here"),
    ([{"name": "x", "face": "alice", "target": "bob", "train": {"freeze_encoder": 10}}],
     r"swaps\.x\.train\.freeze_encoder: 10 freezes an encoder that start_from would copy"),
    ([{"name": "x", "face": "alice", "target": "bob"}, _from("y", "x", preset="dfaker128")],
     r"swaps\.y\.train\.start_from: model alice-bob-lite-\w+ \(original, 64 px\) has another architecture than "
     r"this swap's alice-bob-dfaker128 model \(dfaker, 128 px\): model\.arch original vs dfaker; model\.size 64 "
     r"vs 128;"),
    ([{"name": "x", "face": "alice", "target": "bob"}, _from("y", "x", overrides=["model.dense=64"])],
     r"model\.dense 128 vs 64$"),
])
def test_a_start_that_cannot_be_stops_the_plan_naming_the_swap(clips, swaps, message):
    with pytest.raises(ConfigError, match=message):
        plan(clips, swaps=swaps)


def test_a_start_from_a_finished_folder_is_named_by_its_weights(clips, tmp_path, monkeypatch):
    """A model folder that this config does not plan (another project's, given by its path)
    names the new model by its weights' content: other bytes, another name."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "elsewhere" / "model"
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(compose("lite", ())))
    (folder / "manifest.json").write_text('{"identities": {"a": "bob", "b": "carol"}}')
    (folder / "model.pt").write_bytes(b"weights")
    swaps = [_from("x", str(folder))]
    first = plan(clips, swaps=swaps)
    start = first.models[first.swap_model["x"]]["start"]
    assert start["identities"] == ["bob", "carol"] and start["folder"] == str(folder)
    assert start["digest"] == hashlib.sha256(b"weights").hexdigest()
    assert plan(clips, swaps=swaps).swap_model["x"] == first.swap_model["x"]
    (folder / "model.pt").write_bytes(b"other weights")
    assert plan(clips, swaps=swaps).swap_model["x"] != first.swap_model["x"]


def test_a_folder_of_stills_keeps_every_face_and_a_video_its_max_faces(clips, tmp_path):
    """extract.max_faces (4) is a video frame's; a folder of stills keeps every face
    found unless stills_max_faces says otherwise. A video's recipe (which names
    its models) does not hold the stills' key."""
    stills = tmp_path / "stills"
    stills.mkdir()
    clips = clips | {"group": str(stills)}
    p = plan(clips)
    assert p.detect_settings("bob")["max_faces"] == 4 and p.detect_settings("group")["max_faces"] is None
    assert "stills_max_faces" not in p.faceset_recipe("bob")["extract"]
    assert "stills_max_faces" not in p.faceset_recipe("bob")["lost_faces"]["detect"]
    p = plan(clips, extract={"max_faces": 2, "stills_max_faces": 3})
    assert p.detect_settings("bob")["max_faces"] == 2 and p.detect_settings("group")["max_faces"] == 3

"""Settings: each key declared once in swapflow.settings, the schema and config/README.md's
tables made from it, the strict mapping -> dataclass step, and the renamed keys."""

from __future__ import annotations

import pytest
import yaml

from swapflow import readme_tables, schema, settings
from swapflow.config import check_config, load_schema, other_run, use_own_inputs, validate_config
from swapflow.detectors import DETECTORS
from swapflow.io import dump_yaml
from swapflow.plan import Sealed
from swapflow.schema import ConfigError, from_mapping, section_values
from tests.conftest import REPO

SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
SECTIONS = ["frames", "extract", "mask", "curate", "pose_coverage", "train", "convert", "evaluate", "merge"]
NESTED = ["extract.track", "extract.mediapipe", "extract.dlib-hog", "extract.dlib-cnn",  # sections in a section
          "convert.hands", "convert.reconstruction", "convert.skin"]


def section(config: dict, name: str) -> dict:
    """The config section ``name`` (``extract.mediapipe``: a section in a section)."""
    for key in name.split("."):
        config = config[key]
    return config


def test_every_key_is_declared_once():
    """A section's keys are the fields of its dataclasses, none twice, and the
    schema file declares no settings section of its own."""
    assert set(schema.section_schemas()) == set(SECTIONS)
    for name in SECTIONS + NESTED:
        keys = [f.name for cls in schema.section_classes(name) for f in schema.config_fields(cls)]
        keys += [plugin.rpartition(".")[2] for plugin in NESTED if plugin.startswith(f"{name}.")]
        assert len(keys) == len(set(keys)), name
        assert set(section(SCHEMA["properties"], name.replace(".", ".properties."))["properties"]) == set(keys)
    detectors = load_schema(REPO / "workflow/schemas/config.schema.yaml")["properties"]["extract"]["properties"]
    assert detectors["detector"]["enum"][:2] == ["mediapipe", "dlib-hog"]
    assert detectors["detector"]["enum"] == DETECTORS.names  # with any plugin registered since
    own = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())["properties"]
    assert not set(own) & set(SECTIONS)


def test_the_schema_is_made_from_the_fields():
    """Each field's meaning and default are its schema property's; its annotation gives the type."""
    for cls in schema.SETTINGS:
        props = section(SCHEMA["properties"], cls.section.replace(".", ".properties."))["properties"]
        for f in schema.config_fields(cls):
            assert props[f.name]["description"] == f.metadata["doc"]
            assert props[f.name]["default"] == schema.plain(f.default)
    props = schema.section_schemas()
    assert props["convert"]["properties"]["blend"]["type"] == "string"
    assert props["convert"]["properties"]["occlusion"]["items"] == {
        "type": "string", "enum": ["hands", "reconstruction", "learned", "skin"]}
    assert props["mask"]["properties"]["types"]["default"] == ["components", "extended"]
    assert props["merge"]["properties"]["watermark"]["type"] == ["string", "null"]
    assert "type" not in props["train"]["properties"]["iterations"]
    assert props["extract"]["properties"]["crop_fraction"]["exclusiveMinimum"] == 0


@pytest.mark.parametrize("cls", schema.SETTINGS, ids=lambda c: c.__name__)
def test_defaults_filled_by_the_workflow_are_the_library_defaults(cls):
    config = minimal()
    validate_config(config, SCHEMA)
    assert section_values(cls, section(config, cls.section)) == {
        f.name: schema.plain(f.default) for f in schema.config_fields(cls)}


def test_unknown_keys_are_named():
    with pytest.raises(ConfigError, match=r"convert: unknown setting 'colour' \(known here: mask,"):
        from_mapping(settings.ConvertConfig, {"colour": "rct"})
    with pytest.raises(ConfigError, match="extract: unknown setting 'crop_fraction', 'size'"):
        from_mapping(settings.DetectConfig, {"size": 128, "crop_fraction": 0.8})
    assert from_mapping(settings.MergeConfig, {"crf": 30}).crf == 30
    assert from_mapping(settings.MergeConfig, None) == settings.MergeConfig()


@pytest.mark.parametrize("cls, values, message", [
    (settings.ConvertConfig, {"blend": "seamless"}, "convert.blend: 'seamless' is not allowed (one of: alpha, poisson)"),
    (settings.ConvertConfig, {"occlusion": ["hands", "hair"]},
     "convert.occlusion.1: 'hair' is not allowed (one of: hands, reconstruction, learned, skin)"),
    (settings.ConvertConfig, {"feather": 2}, "convert.feather: 2 is greater than the maximum of 0.5"),
    (settings.MergeConfig, {"crf": "18"}, "merge.crf: '18' is not of type 'integer'"),
    (settings.FramesConfig, {"stills_fps": "25fps"}, "frames.stills_fps: '25fps' does not match"),
])
def test_a_library_user_gets_the_workflows_message(cls, values, message):
    """The library checks what it is given as the workflow's schema does, with the same line."""
    with pytest.raises(ConfigError) as library:
        from_mapping(cls, values)
    assert str(library.value).startswith(message)
    with pytest.raises(ConfigError) as workflow:
        validate_config(minimal() | {cls.section: values}, SCHEMA)
    assert str(workflow.value) == str(library.value)


def test_lists_become_tuples():
    cfg = from_mapping(settings.ConvertConfig, {"occlusion": ["reconstruction"]})
    assert cfg.occlusion == ("reconstruction",)
    assert from_mapping(settings.MaskConfig, {"types": ["mesh"]}).types == ("mesh",)


def test_a_swaps_own_keys_go_on_top():
    section = {"preset": "lite", "overrides": ["batch_size=8"], "iterations": None, "start_from": None,
               "freeze_encoder": 0, "threads": 2,
               "gpus": 1, "runtime": 720, "mem_mb": 8000}
    own = {"overrides": ["model.lr=1e-4"], "iterations": 30}
    values = section_values(settings.TrainJobConfig, section, own)
    assert values["overrides"] == ["batch_size=8", "model.lr=1e-4"], "a swap's overrides come after"
    assert values["iterations"] == 30 and values["preset"] == "lite"
    assert section_values(settings.TrainJobConfig, section) == section


def test_readme_tables_are_made_from_the_settings():
    path = REPO / "config/README.md"
    text = path.read_text()
    assert text.count("<!-- settings table: ") == len(SECTIONS + NESTED) + 1  # and the training config's
    assert readme_tables.readme_tables(text, REPO / "config") == text, (
        "config/README.md's settings tables differ from swapflow.settings: run "
        "python -m swapflow.config config/README.md")


@pytest.mark.parametrize("old, new, where", [
    ({"extract": {"coverage": 0.8}}, ("extract", "crop_fraction"), "extract.coverage is now extract.crop_fraction"),
    ({"coverage": {"radius": 12.0}}, ("pose_coverage", "radius"), "coverage is now pose_coverage"),
])
def test_an_old_key_still_works_for_this_release(capsys, old, new, where):
    config = minimal() | old
    validate_config(config, SCHEMA)
    value = next(iter(next(iter(old.values())).values()))
    assert config[new[0]][new[1]] == value and "coverage" not in config and "coverage" not in config["extract"]
    err = capsys.readouterr().err
    assert err == f"swapflow: {where}; the old name works until the next release\n"


def test_the_detector_keys_moved_under_its_name(capsys):
    config = minimal() | {"extract": {"range": "short", "tiling": "never", "threshold": 0.6}}
    validate_config(config, SCHEMA)
    assert config["extract"]["mediapipe"] == {"range": "short", "tiling": "never"}
    assert config["extract"]["threshold"] == 0.6 and "range" not in config["extract"]
    assert config["extract"]["dlib-hog"] == {"upsample": 1}
    assert capsys.readouterr().err.splitlines() == [
        f"swapflow: extract.{key} is now extract.mediapipe.{key}; the old name works until the next release"
        for key in ("range", "tiling")]
    with pytest.raises(ConfigError, match="extract.range and extract.mediapipe.range are both given"):
        validate_config(minimal() | {"extract": {"range": "short", "mediapipe": {"range": "full"}}}, SCHEMA)


def test_the_occlusion_keys_moved_under_their_source(capsys):
    """Each occlusion source owns its settings: an old flat key moves under the source,
    in the sections, in a swap's own section and in an experiment's grid."""
    config = minimal(convert={"skin_threshold": 3.0}) | {
        "convert": {"occlusion_threshold": 4.0, "occlusion_usual": "video", "hand_dilate": 0.1},
        "mask": {"hand_confidence": 0.7},
        "experiments": [{"name": "e", "swap": "s", "grid": {"convert.occlusion_frames": [0, 2]}}]}
    validate_config(config, SCHEMA)
    convert = config["convert"]
    assert convert["reconstruction"] == {"threshold": 4.0, "usual": "video", "frames": 1}
    assert convert["hands"] == {"dilate": 0.1, "confidence": 0.7} and convert["skin"] == {"threshold": 4.0}
    assert config["swaps"][0]["convert"] == {"skin": {"threshold": 3.0}}
    assert list(config["experiments"][0]["grid"]) == ["convert.reconstruction.frames"]
    assert "hand_confidence" not in config["mask"] and "occlusion_threshold" not in convert
    lines = capsys.readouterr().err.splitlines()
    assert "swapflow: swaps.s.convert.skin_threshold is now swaps.s.convert.skin.threshold; the old name " \
           "works until the next release" in lines
    assert any(line.startswith("swapflow: experiments.e.grid: convert.occlusion_frames is now "
                               "convert.reconstruction.frames") for line in lines)
    assert len(lines) == 6


def test_a_swap_cannot_set_how_hands_are_tracked():
    """Rule hands runs once a video for every swap: a swap's own confidence would be ignored."""
    with pytest.raises(ConfigError, match="swaps.s.convert.hands.confidence: hands are tracked once a video"):
        validate_config(minimal(convert={"hands": {"confidence": 0.9}}), SCHEMA)
    validate_config(minimal(convert={"hands": {"dilate": 0.4}}), SCHEMA)


def test_an_old_key_beside_its_new_name_is_refused():
    with pytest.raises(ConfigError, match="extract.coverage and extract.crop_fraction are both given"):
        validate_config(minimal() | {"extract": {"coverage": 0.8, "crop_fraction": 0.7}}, SCHEMA)
    with pytest.raises(ConfigError, match="coverage and pose_coverage are both given"):
        validate_config(minimal() | {"coverage": {}, "pose_coverage": {}}, SCHEMA)


def minimal(**swap) -> dict:
    return {"videos": {"v": "v.mp4"}, "identities": {"a": {"videos": ["v"]}},
            "swaps": [{"name": "s", "face": "a", "target": "a", **swap}]}


def test_defaults_are_filled_but_not_into_swap_sections():
    config = minimal(train={"iterations": 5}, merge={"crf": 20})
    validate_config(config, SCHEMA)
    assert config["merge"]["crf"] == 18 and config["train"]["preset"] == "lite"
    assert config["swaps"][0]["merge"] == {"crf": 20}, "no defaults filled into a swap's section"
    assert config["swaps"][0]["convert"] == {} and config["identities"]["a"]["references"] == []


def test_every_problem_is_one_line_naming_its_key():
    config = minimal(convert={"feather": 2}) | {"merge": {"crf": 99, "presett": "x"},
                                                 "extract": {"mediapipe": {"range": "far"}}}
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert str(err.value).splitlines() == [
        "extract.mediapipe.range: 'far' is not allowed (one of: auto, short, full)",
        "merge: unknown key 'presett' (allowed: codec, crf, preset, pix_fmt, audio_codec, "
        "synthetic_tag, watermark)",
        "merge.crf: 99 is greater than the maximum of 51",
        "swaps.s.convert.feather: 2 is greater than the maximum of 0.5"]


def test_own_inputs_replace_the_demo_ones():
    demo = {"videos": {"woman": "w.mp4", "man": "m.mp4"}, "identities": {"woman": {}},
            "swaps": [{"name": "demo"}], "merge": {"crf": 18}}
    config = dict(demo)
    use_own_inputs(config, {"videos": {"clip": "c.mp4"}, "swaps": [], "merge": {"crf": 18}})
    assert config["videos"] == {"clip": "c.mp4"} and config["swaps"] == []
    assert "identities" not in config and config["merge"] == {"crf": 18}
    settings_only = dict(demo)
    use_own_inputs(settings_only, {"merge": {"crf": 30}})
    assert settings_only["videos"] == demo["videos"], "a settings-only config keeps the demo"


def alias_bomb(levels: int) -> str:
    """A few hundred bytes of YAML standing for 10 ** levels strings."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "\n".join(lines + [f"videos: {{v: *l{levels - 1}}}"]) + "\n"


def test_an_alias_bomb_is_refused_before_it_is_walked():
    config = yaml.safe_load(alias_bomb(9))
    with pytest.raises(ConfigError, match=r"stands for [0-9.]+e\+09 values once its YAML aliases"):
        validate_config(config, SCHEMA)


def test_long_values_are_cut_in_messages():
    config = minimal(merge={"crf": ["x" * 5000]})
    config["identities"]["a" * 3000] = {"videos": ["v"]}
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert all(len(line) < 400 for line in str(err.value).splitlines()), str(err.value)[:1000]
    assert "characters)" in str(err.value)


def test_a_swap_onto_a_video_of_its_own_face_is_refused():
    """face == target is refused; naming a video of the face identity in the
    swap's videos is the same swap by another road."""
    config = {"videos": {"w": "w.mp4", "m": "m.mp4", "both": "b.mp4"},
              "identities": {"woman": {"videos": ["w", "both"]}, "man": {"videos": ["m", "both"]}},
              "swaps": [{"name": "s", "face": "woman", "target": "man", "videos": ["m", "both", "w"]}],
              "mask": {"faceset_mask": "extended", "types": ["extended"]}}
    with pytest.raises(ConfigError, match="swaps.s.videos: 'w' is a video of the face identity 'woman'"):
        check_config(config)
    config["swaps"][0]["videos"] = ["m", "both"]  # a video of both identities is a target video too
    check_config(config)


@pytest.mark.parametrize("codec", ["copy", "libvpx-vp9", "mjpeg"])
def test_merge_codec_is_one_that_honours_crf_and_preset(codec):
    with pytest.raises(ConfigError, match=rf"merge.codec: '{codec}' is not allowed \(one of: libx264, libx265\)"):
        validate_config(minimal() | {"merge": {"codec": codec}}, SCHEMA)


def test_sealed_settings_show_a_short_digest_that_follows_their_content():
    """Snakemake records a param's repr to decide reruns and prints it in the reason:
    a whole config there made every "Params have changed" reason pages long."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate_config(config, SCHEMA)
    sealed = Sealed(config)
    assert len(repr(sealed)) < 40 and str(sealed) == repr(sealed)
    assert dict(sealed) == config  # the script still gets the settings
    assert repr(Sealed(dict(reversed(list(config.items()))))) == repr(sealed)  # order is no change
    changed = config | {"train": config["train"] | {"iterations": 4001}}
    assert repr(Sealed(changed)) != repr(sealed)
    assert repr(Sealed({"x": 1})) != repr(Sealed({"x": 1.5}))


def test_report_hint_names_what_differs_from_the_last_run(tmp_path):
    """`--report` after a run of another config: the record of that run
    (results/config.yaml) differs in the sections named; the same config, or
    no record, gives no line."""
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate_config(config, SCHEMA)
    record = tmp_path / "config.yaml"
    assert other_run(config, record) is None
    record.write_text(dump_yaml(config))
    assert other_run(config, record) is None
    quick = config | {"train": config["train"] | {"iterations": 600}}
    assert "(it differs in: train)" in other_run(quick, record)
    others = config | {"swaps": [], "merge": config["merge"] | {"crf": 30}}
    assert "(it differs in: merge, swaps)" in other_run(others, record)

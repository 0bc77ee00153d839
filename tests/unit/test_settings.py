"""Settings: the strict mapping -> dataclass step, and library defaults equal to the schema's."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from swapflow import settings
from swapflow.config import check_config, other_run, use_own_inputs, validate_config
from swapflow.io import dump_yaml
from swapflow.settings import ConfigError, from_mapping
from tests.conftest import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
STAGES = [settings.FramesConfig, settings.DetectConfig, settings.AlignConfig, settings.MaskConfig,
          settings.FacesetConfig, settings.HandsConfig, settings.CurateConfig, settings.CoverageConfig,
          settings.ConvertConfig, settings.EvaluateConfig, settings.MergeConfig]
# keys the workflow itself reads (job layout, rule all), not a library stage
WORKFLOW_KEYS = {("extract", "shard_size"), ("convert", "shard_size"), ("evaluate", "enabled")}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("cls", STAGES, ids=lambda c: c.__name__)
def test_library_defaults_equal_the_schema(cls):
    keys = SCHEMA["properties"][cls.section]["properties"]
    for field in dataclasses.fields(cls):
        assert field.name in keys, f"{cls.__name__}.{field.name} is not in the schema"
        assert _plain(field.default) == keys[field.name]["default"], f"{cls.section}.{field.name}"


@pytest.mark.parametrize("section", ["frames", "extract", "mask", "curate", "coverage", "convert",
                                     "evaluate", "merge"])
def test_every_schema_key_is_read_by_one_stage(section):
    read = [(section, f.name) for cls in STAGES if cls.section == section
            for f in dataclasses.fields(cls)]
    for key in SCHEMA["properties"][section]["properties"]:
        assert read.count((section, key)) + ((section, key) in WORKFLOW_KEYS) == 1, key


def test_unknown_keys_are_named():
    with pytest.raises(ConfigError, match=r"convert: unknown setting 'colour' \(known here: mask,"):
        from_mapping(settings.ConvertConfig, {"colour": "rct"})
    with pytest.raises(ConfigError, match="extract: unknown setting 'coverage', 'size'"):
        from_mapping(settings.DetectConfig, {"size": 128, "coverage": 0.8})
    assert from_mapping(settings.MergeConfig, {"crf": 30}).crf == 30
    assert from_mapping(settings.MergeConfig, None) == settings.MergeConfig()


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
                                                 "extract": {"range": "far"}}
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    assert str(err.value).splitlines() == [
        "extract.range: 'far' is not allowed (one of: auto, short, full)",
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
    sealed = settings.Sealed(config)
    assert len(repr(sealed)) < 40 and str(sealed) == repr(sealed)
    assert dict(sealed) == config  # the script still gets the settings
    assert repr(settings.Sealed(dict(reversed(list(config.items()))))) == repr(sealed)  # order is no change
    changed = config | {"train": config["train"] | {"iterations": 4001}}
    assert repr(settings.Sealed(changed)) != repr(sealed)
    assert repr(settings.Sealed({"x": 1})) != repr(settings.Sealed({"x": 1.5}))


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

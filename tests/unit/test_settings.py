"""Settings: the strict mapping -> dataclass step, and library defaults equal to the schema's."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from swapflow import settings
from swapflow.config import check_swap_sections, use_own_inputs
from swapflow.settings import ConfigError, from_mapping
from tests.conftest import REPO

SCHEMA = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
STAGES = [settings.FramesConfig, settings.DetectConfig, settings.AlignConfig, settings.MaskConfig,
          settings.FacesetConfig, settings.ConvertConfig, settings.EvaluateConfig,
          settings.MergeConfig]
# keys the workflow itself reads (job layout, rule all), not a library stage
WORKFLOW_KEYS = {("extract", "shard_size"), ("evaluate", "enabled")}


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


@pytest.mark.parametrize("cls", STAGES, ids=lambda c: c.__name__)
def test_library_defaults_equal_the_schema(cls):
    keys = SCHEMA["properties"][cls.section]["properties"]
    for field in dataclasses.fields(cls):
        assert field.name in keys, f"{cls.__name__}.{field.name} is not in the schema"
        assert _plain(field.default) == keys[field.name]["default"], f"{cls.section}.{field.name}"


@pytest.mark.parametrize("section", ["frames", "extract", "mask", "convert", "evaluate", "merge"])
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


def test_swap_sections_are_checked_without_defaults():
    config = {"swaps": [{"name": "s", "train": {"iterations": 5}, "convert": {},
                         "merge": {"crf": 20}}]}
    check_swap_sections(config, SCHEMA)
    assert config["swaps"][0]["merge"] == {"crf": 20}, "no defaults filled in"
    config["swaps"][0]["convert"] = {"feather": 2}
    with pytest.raises(ConfigError, match=r"swaps.s.convert.feather: 2 is greater than the maximum"):
        check_swap_sections(config, SCHEMA)


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

"""The training config's schema (TrainConfig): composition keeps every value as
the YAML files and overrides write it, and refuses what a field does not take."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import OmegaConf

from swapflow.schema import ConfigError
from swapflow.train.config import SCHEMA, TRAIN_KEYS, check_ranges, compose_config, list_presets
from tests.conftest import TRAIN_CONFIG

OVERRIDES = [[], ["model.lr=1e-4"], ["iterations=20"], ["batch_size=8"], ["data.flip=false"],
             ["precision=fp32"], ["iterations=auto", "channels_last=false"], ["loss.gradient=1", "lr_final=0"],
             ["model.betas=[0,0.9]", "data.device_memory_gib=0.5"], ["+note=hello", "device=cpu"]]


def _typed(value):
    """``value`` with the type of each leaf beside it: 8 and 8.0 differ."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return type(value).__name__, value


def _without_schema(tmp: Path, preset: str, overrides: list[str]) -> dict:
    """The composition as plain Hydra makes it from the same files, train_schema left out."""
    shutil.copytree(TRAIN_CONFIG, tmp, dirs_exist_ok=True)
    primary = tmp / "train.yaml"
    text = primary.read_text()
    assert re.search(rf"^  - {SCHEMA}\b.*\n", text, flags=re.M)
    primary.write_text(re.sub(rf"^  - {SCHEMA}\b.*\n", "", text, flags=re.M))
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(tmp), version_base="1.3"):
            return OmegaConf.to_container(compose(config_name="train", overrides=[f"model={preset}", *overrides]),
                                          resolve=True)
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.parametrize("preset", list_presets(TRAIN_CONFIG))
def test_schema_keeps_every_value_and_its_type(tmp_path, preset):
    """Model names and checkpoint fingerprints hash the composed config: the
    schema must not change a key, a value or a type (an int stays int)."""
    for overrides in OVERRIDES:
        cfg = OmegaConf.to_container(compose_config(TRAIN_CONFIG, preset, overrides), resolve=True)
        assert cfg.pop("preset") == preset
        assert _typed(cfg) == _typed(_without_schema(tmp_path, preset, overrides)), overrides
    assert type(cfg["data"]["device_memory_gib"]) is int  # 8 in train.yaml, never 8.0


@pytest.mark.parametrize("preset", list_presets(TRAIN_CONFIG))
def test_schema_declares_each_setting(preset):
    """Every key of train.yaml and of each preset is a field of TrainConfig, and each field has a value."""
    cfg = OmegaConf.to_container(compose_config(TRAIN_CONFIG, preset), resolve=True)

    def leaves(mapping, prefix=""):
        for key, value in mapping.items():
            yield from leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else [f"{prefix}{key}"]

    assert set(leaves(cfg)) == set(TRAIN_KEYS) | {"preset"}
    check_ranges(cfg)


@pytest.mark.parametrize("override, message", [
    ("data.flip=2", "override 'data.flip=2' does not apply: data.flip takes true or false, not 2"),
    ("compile=yes", "override 'compile=yes' does not apply: compile takes true or false, not 'yes'"),
    ("model.size='64'", "override \"model.size='64'\" does not apply: model.size takes a whole number, not '64'"),
    ("model.arch=7", "override 'model.arch=7' does not apply: model.arch takes text, not 7"),
    ("data.rotation=true", "override 'data.rotation=true' does not apply: data.rotation takes a number, not True"),
    ("model.encoder=5", "override 'model.encoder=5' does not apply: model.encoder takes a list, not 5"),
    ("data=3", "override 'data=3' does not apply: data takes a mapping, not 3"),
    ("loss={ssim: yes}", "override 'loss={ssim: yes}' does not apply: loss.ssim takes a number, not 'yes'"),
    ("loss={foo: 1}", "override 'loss={foo: 1}' does not apply: loss.foo is not a key of the training config"),
    ("nokey=1", "override 'nokey=1' does not apply: nokey is not a key of the training config"),
    ("batch_size=8.0", "training setting batch_size is 8.0; it takes a whole number of at least 1"),
    ("model.decoder=[64,0.5,16]", "training setting model.decoder is [64, 0.5, 16]; it takes a list, each item "
                                  "a whole number of at least 1"),
    ("model.encoder=[32,a]", "training setting model.encoder is [32, 'a']; it takes a list, each item a whole"),
    ("stop.window=2000", "training setting stop.window is 2000; it takes a whole number of at least 1 and at "
                         "most 1000"),
    ("seed=-1", "training setting seed is -1; it takes a whole number of at least 0 and at most 9.22337e+18"),
    ("iterations=abc", "training setting iterations is 'abc'; it takes a whole number of at least 1 or auto"),
    ("iterations=null", "training setting iterations is None; it takes a whole number of at least 1 or auto"),
    ("channels_last=maybe", "training setting channels_last is 'maybe'; it takes one of auto, true, false"),
    ("precision=3", "training setting precision is 3; it takes one of auto, fp32, bf16, fp16"),
    ("~batch_size", "training setting batch_size is not set; it takes a whole number of at least 1"),
])
def test_bad_override_names_key_value_and_what_is_allowed(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        compose_config(TRAIN_CONFIG, "lite", [override])


def test_words_and_whole_numbers_still_apply():
    cfg = compose_config(TRAIN_CONFIG, "lite", ["iterations=auto", "channels_last=true", "data.rotation=0",
                                          "model.betas=[0.5,0.99]", "++seed=3", "+model.extra=1"])
    assert (cfg.iterations, cfg.channels_last, cfg.seed, cfg.model.extra) == ("auto", True, 3, 1)
    assert type(cfg.data.rotation) is int


def test_a_preset_of_the_wrong_type_does_not_compose(tmp_path):
    shutil.copytree(TRAIN_CONFIG, tmp_path, dirs_exist_ok=True)
    preset = tmp_path / "model" / "lite.yaml"
    preset.write_text(re.sub(r"^  size: 64\b", "  size: big", preset.read_text(), flags=re.M))
    with pytest.raises(ConfigError, match="training setting model.size is 'big'; it takes a whole number"):
        compose_config(tmp_path, "lite")


def test_a_preset_may_add_keys_its_architecture_reads(tmp_path):
    """A new architecture's preset brings keys of its own; a typo in an override still stops."""
    shutil.copytree(TRAIN_CONFIG, tmp_path, dirs_exist_ok=True)
    preset = (tmp_path / "model" / "lite.yaml").read_text()
    (tmp_path / "model" / "mine.yaml").write_text(re.sub(r"^  lr:", "  dropout: 0.1\n  lr:", preset, flags=re.M))
    assert compose_config(tmp_path, "mine", ["model.dropout=0.2"]).model.dropout == 0.2
    with pytest.raises(ConfigError, match="model.sise is not a key of the training config"):
        compose_config(tmp_path, "mine", ["model.sise=3"])


def alias_bomb(path: Path, levels: int = 9) -> Path:
    """A few hundred bytes of YAML standing for 9**levels values once its aliases are expanded."""
    lines = ['l0: &l0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("overrides", [
    ["model=../../../{bomb}"], ["model={bomb}"], ["model=lite,../../../{bomb}"], ["~model"],
    ["hydra.searchpath=[file://{folder}]", "+evil=bomb"], ["+hydra.job.chdir=true"],
    ["hydra/launcher=basic"], ["model@data=lite"], ["+evil@_global_=bomb"],
])
def test_overrides_reach_no_file_outside_the_config_folder(tmp_path, overrides):
    """Overrides name settings and presets: no path, package or Hydra setting
    brings in a YAML from elsewhere (an alias bomb here: it would hang)."""
    (tmp_path / "evil").mkdir()
    bomb = alias_bomb(tmp_path / "evil" / "bomb.yaml")
    overrides = [o.format(bomb=bomb.with_suffix(""), folder=bomb.parent) for o in overrides]
    with pytest.raises(ConfigError, match=r"override .* does not apply: (an override sets a training setting "
                                          r"|model takes one of df256, dfaker128, lite, original)"):
        compose_config(TRAIN_CONFIG, "lite", overrides)


@pytest.mark.parametrize("preset_text, message", [
    (None, r"stands for [\d.e+]+ values once its YAML aliases"),
    ("model:\n  arch: ${{oc.env:HOME}}\n", r"'\$\{{oc.env:HOME\}}': interpolations and resolvers"),
    ("defaults:\n  - /../../{up}/bomb\n", r"defaults entry '/../../{up}/bomb' is not taken"),
    ("defaults:\n  - override /model: ../../../{up}/bomb\n", r"defaults entry .* is not taken"),
    ("model: !!python/object/apply:os.system [echo]\n", "not a YAML file"),
    ("# {big}\n", r"1000004 bytes, more than the 1000000 a training config file may have"),
])
def test_every_yaml_hydra_reads_is_bounded(tmp_path, preset_text, message):
    """The files of the config folder get the config file's bounds: aliases,
    ${...}, defaults that reach out, tags, size."""
    shutil.copytree(TRAIN_CONFIG, tmp_path / "config")
    up = tmp_path.relative_to("/")
    alias_bomb(tmp_path / "bomb.yaml")
    preset = tmp_path / "config" / "model" / "mine.yaml"
    if preset_text is None:
        alias_bomb(preset)
    else:
        preset.write_text(preset_text.format(up=up, big="x" * 1_000_001))
    with pytest.raises(ConfigError, match=rf"{preset}:? {message.format(up=up)}"):
        compose_config(tmp_path / "config", "mine")
    with pytest.raises(ConfigError, match=rf"{preset}:? "):  # also when picked by an override
        compose_config(tmp_path / "config", "lite", ["model=mine"])


@pytest.mark.parametrize("change, message", [
    ({"data": {"flip": "yes"}}, "training setting data.flip is 'yes'; it takes true or false"),
    ({"model": {"lr": "fast"}}, "training setting model.lr is 'fast'; it takes a number above 0 and at most 1"),
    ({"curve": None}, "training setting curve.every is not set; it takes a whole number of at least 1"),
    ({"precision": "fp8"}, "training setting precision is 'fp8'; it takes one of auto, fp32, bf16, fp16"),
])
def test_a_config_file_is_checked_by_the_same_schema(change, message):
    """A composed config given as a file (swapflow-train --config) is plain YAML: check_ranges types it."""
    cfg = OmegaConf.merge(OmegaConf.to_container(compose_config(TRAIN_CONFIG, "lite")), change)
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_ranges(cfg)

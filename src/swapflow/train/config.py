"""Compose the training config with Hydra: primary config + preset + overrides."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf

from swapflow.settings import ConfigError

PRIMARY = "train"


def list_presets(config_dir: str | Path) -> list[str]:
    """Names of the presets in ``config_dir/model``."""
    return sorted(p.stem for p in (Path(config_dir) / "model").glob("*.yaml"))


def compose_config(config_dir: str | Path, preset: str, overrides: list[str] = ()) -> DictConfig:
    """Compose ``config_dir/train.yaml`` with preset ``model/<preset>.yaml`` and
    Hydra ``overrides`` (e.g. ``["model.lr=1e-4", "iterations=200"]``).

    Raises ConfigError naming the valid presets, or the override that does
    not apply.
    """
    config_dir = Path(config_dir).resolve()
    if not (config_dir / f"{PRIMARY}.yaml").is_file():
        raise ConfigError(f"{config_dir} has no {PRIMARY}.yaml (pass the repository's config/ folder)")
    presets = list_presets(config_dir)
    if preset not in presets:
        raise ConfigError(f"unknown preset {preset!r}; valid presets: {', '.join(presets)}")
    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3",
                                   job_name="swapflow_train"):
            cfg = compose(config_name=PRIMARY, overrides=[f"model={preset}", *overrides])
            if overrides:
                _check_types(compose(config_name=PRIMARY, overrides=[f"model={preset}"]), cfg,
                             list(overrides))
    except MissingConfigException as err:
        raise ConfigError(f"{err}") from err
    except (ConfigCompositionException, OverrideParseException) as err:
        raise ConfigError(_explain(err, list(overrides))) from err
    finally:
        GlobalHydra.instance().clear()
    OmegaConf.set_struct(cfg, False)
    cfg.preset = preset
    OmegaConf.set_struct(cfg, True)
    return cfg


def _kind(value: object) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, list) else "a mapping" if isinstance(value, dict) else ""


def _check_types(base: DictConfig, cfg: DictConfig, overrides: list[str]) -> None:
    """An override keeps the kind of value it replaces (YAML nodes are untyped, so
    Hydra would take ``model.lr=fast``); raises ConfigError naming the override."""
    for path, old, new in _changed_leaves(OmegaConf.to_container(base, resolve=True),
                                          OmegaConf.to_container(cfg, resolve=True)):
        if _kind(old) != _kind(new) and old != "auto":  # `auto` keys also take true/false
            which = [o for o in overrides if o.lstrip("+~").split("=", 1)[0] == path]
            raise ConfigError(f"override {(which or [path])[-1]!r} does not apply: {path} takes "
                              f"{_kind(old)}, not {new!r}")


def _changed_leaves(old: dict, new: dict, prefix: str = "") -> Iterator[tuple[str, object, object]]:
    """(dotted key, old value, new value) of the values set in both, not None."""
    for key, value in new.items():
        if key not in old or old[key] is None or value is None:
            continue
        if isinstance(value, dict) and isinstance(old[key], dict):
            yield from _changed_leaves(old[key], value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", old[key], value


def _explain(err: Exception, overrides: list[str]) -> str:
    """Name the offending override and the reason in Hydra's composition error."""
    chain, cause = [], err
    while cause is not None:
        chain.append(str(cause))
        cause = cause.__cause__
    text = "\n".join(chain)
    match = re.search(r"override '([^']+)'", text)
    key = match.group(1) if match else ""
    bad = [o for o in overrides if o == key or o.split("=", 1)[0].lstrip("+~") == key]
    which = bad[0] if bad else (key or ", ".join(overrides))
    reason = chain[-1].splitlines()[0]
    if "not in struct" in reason:
        reason = f"{key.split('=')[0]} is not a key of the training config (add new keys with '+{key}=...')"
    elif len(chain[-1].splitlines()) > 1:
        reason = "; ".join(chain[-1].splitlines()[:2])
    return f"override {which!r} does not apply: {reason}"


def model_name(identities: Sequence[str], videos: Mapping[str, Sequence[str]], cfg: Mapping) -> str:
    """``<face>-<target>-<preset>-<hash>``: a model named by what it is trained on
    (the identities and their videos) and with (the composed config ``cfg``), so
    swaps that differ only after training share it and any change names a new one."""
    what = {"identities": list(identities), "videos": {k: list(v) for k, v in videos.items()},
            "config": cfg}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:10]
    return f"{'-'.join(identities)}-{cfg['preset']}-{digest}"

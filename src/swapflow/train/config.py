"""Compose the training config with Hydra: primary config + preset + overrides."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import DictConfig, OmegaConf

from swapflow.settings import ConfigError, cut

PRIMARY = "train"

# What each training setting may be, the one definition: checked when a config is
# composed (a dry run stops on a bad override) and when a trainer starts (a
# config file given to swapflow-train). key -> (kind, lowest, highest); a
# lowest of None means "above 0". A list setting has each item checked; those of
# TAKES_AUTO may also be the word auto.
INF = float("inf")
TAKES_AUTO = ("iterations",)
RANGES: dict[str, tuple[type, float | None, float]] = {
    "seed": (int, 0, 2 ** 63 - 1),
    "iterations": (int, 1, INF),
    "batch_size": (int, 1, INF),
    "lr_final": (float, 0, 1),
    "min_faces": (int, 1, INF),
    "holdout": (float, 0, 0.25),       # a fraction, never more than a quarter
    "holdout_min": (int, 0, INF),
    "checkpoint_every": (int, 1, INF),
    "preview_every": (int, 1, INF),
    "log_every_s": (float, 0, INF),
    "curve.every": (int, 1, INF),
    "curve.holdout_faces": (int, 1, 4096),
    "curve.swap_faces": (int, 0, 256),
    "stop.max_iterations": (int, 1, INF),
    "stop.window": (int, 1, 1000),
    "stop.min_delta": (float, 0, INF),
    "model.size": (int, 16, 1024),
    "model.coverage": (float, None, 1),
    "model.encoder": (int, 1, INF),
    "model.dense": (int, 0, INF),
    "model.bottleneck": (int, 1, INF),
    "model.decoder": (int, 1, INF),
    "model.lr": (float, None, 1),
    "model.betas": (float, 0, 0.9999),
    "data.device_memory_gib": (float, 0, INF),
    "data.rotation": (float, 0, 180),
    "data.zoom": (float, 0, 0.5),
    "data.shift": (float, 0, 0.5),
    "data.jitter_l": (float, 0, 1),
    "data.jitter_ab": (float, 0, 1),
    "data.warp_grid": (int, 2, 64),
    "data.warp_strength": (float, 0, 0.25),
    "data.mask_dilate": (float, 0, 0.5),
    "data.background_weight": (float, 0, INF),
    "data.region_weight": (float, 0, INF),
    "loss.ssim": (float, 0, INF),
    "loss.l1": (float, 0, INF),
    "loss.gradient": (float, 0, INF),
    "loss.mask": (float, 0, INF),
    "loss.grad_clip": (float, 0, INF),
}
CHOICES: dict[str, tuple[str, ...]] = {
    "lr_schedule": ("constant", "cosine"),
    "precision": ("auto", "fp32", "bf16", "fp16"),
}


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
    for override in overrides:
        if "${" in override:  # ${oc.env:...} would copy the environment into the model's record
            raise ConfigError(f"override {cut(repr(override))} does not apply: interpolations and resolvers "
                              "(${...}) are not taken; write the value itself")
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
    check_ranges(cfg)
    OmegaConf.set_struct(cfg, False)
    cfg.preset = preset
    OmegaConf.set_struct(cfg, True)
    return cfg


def _range_text(kind: type, low: float | None, high: float) -> str:
    what = "a whole number" if kind is int else "a number"
    if low is None:
        return f"{what} above 0" + (f" and at most {high:g}" if high < INF else "")
    return f"{what} of at least {low:g}" + (f" and at most {high:g}" if high < INF else "")


def check_ranges(cfg: DictConfig) -> None:
    """Raise ConfigError naming the first setting of ``cfg`` outside ``RANGES``/``CHOICES``."""
    for key, (kind, low, high) in RANGES.items():
        value = OmegaConf.select(cfg, key)
        if key in TAKES_AUTO and value == "auto":
            continue
        listed = OmegaConf.is_list(value) or isinstance(value, (list, tuple))
        for item in value if listed else [value]:
            number = isinstance(item, (int, float)) and not isinstance(item, bool)
            if not (number and (kind is float or isinstance(item, int))
                    and (item > 0 if low is None else item >= low) and item <= high):
                raise ConfigError(f"training setting {key} is {_shown(value)}; it takes "
                                  f"{'a list, each item ' if listed else ''}{_range_text(kind, low, high)}"
                                  + (" or auto" if key in TAKES_AUTO else ""))
    for key, allowed in CHOICES.items():
        value = OmegaConf.select(cfg, key)
        if value not in allowed:
            raise ConfigError(f"training setting {key} is {_shown(value)}; it takes one of {', '.join(allowed)}")


def _shown(value: object) -> str:
    return cut(repr(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value))


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
        # `auto` keys also take true/false; TAKES_AUTO keys the word auto
        if _kind(old) != _kind(new) and old != "auto" and not (path in TAKES_AUTO and new == "auto"):
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


def schedule_length(cfg: Mapping) -> int:
    """The last iteration a run may reach: ``iterations``, or ``stop.max_iterations`` when auto."""
    return int(cfg["stop"]["max_iterations"] if cfg["iterations"] == "auto" else cfg["iterations"])


def model_name(identities: Sequence[str], data: Mapping[str, Sequence[Any]], cfg: Mapping) -> str:
    """``<face>-<target>-<preset>-<hash>``: a model named by what it is trained on
    (the identities and, per identity, what its facesets are made from: ``data``)
    and with (the composed config ``cfg``), so swaps that differ only after
    training share it and any change names a new one."""
    what = {"identities": list(identities), "data": {k: list(v) for k, v in data.items()},
            "config": cfg}
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:10]
    return f"{'-'.join(identities)}-{cfg['preset']}-{digest}"

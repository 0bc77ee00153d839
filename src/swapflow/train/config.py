"""Compose the training config with Hydra: primary config + preset + overrides.

``TrainConfig`` is the schema of ``config/train.yaml`` (its ``defaults`` list
starts with ``train_schema``, stored in Hydra's ConfigStore below): the one
definition of what each training setting may be and means. A field's
annotation is its type; its metadata, set with ``ranged``/``one_of``/``typed``,
the range or the words it takes and its meaning (config/README.md's training
table is made from them). ``check_ranges`` checks a config against both, when a
config is composed (a dry run stops on a bad override) and when a trainer
starts (a config file given to swapflow-train). The default values are in the
YAML files (train.yaml, then the preset's).
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Union

from hydra import compose, initialize_config_dir
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import ConfigAttributeError, ConfigKeyError

from swapflow.schema import ConfigError, cut
from swapflow.train.reach import check_reach, check_yaml

PRIMARY = "train"
SCHEMA = "train_schema"
INF = float("inf")

# An int or a float, each kept as written: a `float` field would turn 8 into 8.0,
# and the composed config (which names models and checkpoints) with it.
Number = Union[int, float]


def ranged(low: float | None = None, high: float = INF, *, above: float | None = None,
           also: tuple[str, ...] = (), doc: str) -> Any:
    """A setting of at least ``low`` (or ``above``) and at most ``high``, or one of
    the words ``also``; of a list, each item. ``doc``: what it means (a row of
    config/README.md's table of the training config)."""
    return field(default=MISSING, metadata={"low": low, "above": above, "high": high, "one_of": also, "doc": doc})


def one_of(*choices: str | bool, doc: str) -> Any:
    """A setting that takes one of ``choices``."""
    return field(default=MISSING, metadata={"one_of": choices, "doc": doc})


def typed(doc: str) -> Any:
    """A setting that takes any value of its type."""
    return field(default=MISSING, metadata={"doc": doc})


@dataclass
class ModelConfig:
    arch: str = typed("the architecture: `original` (shared encoder, a decoder per side) or `dfaker` (residual "
                      "decoders)")
    size: int = ranged(16, 1024, doc="the side of the model's input and output, pixels")
    coverage: Number = ranged(above=0, high=1, doc="the centred share of the 256 px faceset crop the model sees "
                                                   "(convert and evaluate use the same crop)")
    encoder: List[int] = ranged(1, doc="channels of the encoder's convolutions, one a halving of the side")
    dense: int = ranged(0, doc="units of the dense bottleneck; `0` puts a 1x1 convolution there instead")
    bottleneck: int = ranged(1, doc="channels of the code the decoders start from")
    decoder: List[int] = ranged(1, doc="channels of each decoder's upscaling steps")
    res_blocks: bool = typed("residual blocks in the decoders")
    mask: bool = typed("the decoders also draw the face's mask (its loss: `loss.mask`); with `data.occlusion` it "
                       "learns to leave out what covers the face (`convert.occlusion: [learned]`)")
    lr: Number = ranged(above=0, high=1, doc="Adam's learning rate (the start of a cosine `lr_schedule`)")
    betas: List[Number] = ranged(0, 0.9999, doc="Adam's betas")


@dataclass
class CurveConfig:
    every: int = ranged(1, doc="iterations between points of the learning curve (`curve.tsv`, `curve.png` in the "
                               "model folder; live in `results/checkpoints/<model>/curve.tsv`), measured from "
                               "iteration 0 and at the last")
    holdout_faces: int = ranged(1, 4096, doc="held-out faces a side whose reconstruction (masked PSNR and SSIM, "
                                             "as `evaluate`) a point measures")
    swap_faces: int = ranged(0, 256, doc="held-out faces of B swapped to A at each point: dlib distance to A's "
                                         "reference and sharpness against the source (about 0.15 s a face on a CPU)")


@dataclass
class StopConfig:
    max_iterations: int = ranged(1, doc="with `iterations: auto`: the most it trains (a cosine schedule runs "
                                        "over this many)")
    window: int = ranged(1, 1000, doc="with `iterations: auto`: stop at the first curve point where the best "
                                      "held-out masked PSNR (mean of A and B) rose less than `min_delta` dB over "
                                      "the last `window` points")
    min_delta: Number = ranged(0, doc="see `stop.window`, dB")


@dataclass
class DataConfig:
    device_memory_gib: Number = ranged(0, doc="how much of the GPU the training faces may take (beyond it they "
                                              "stay in pinned host memory)")
    rotation: Number = ranged(0, 180, doc="degrees, uniform ±, of input and target alike")
    zoom: Number = ranged(0, 0.5, doc="relative, uniform ±, of input and target alike")
    shift: Number = ranged(0, 0.5, doc="share of the side, uniform ±, of input and target alike")
    flip: bool = typed("mirror half the faces (input and target alike; coverage counts mirrored faces)")
    jitter_l: Number = ranged(0, 1, doc="LAB lightness shift, share of 255")
    jitter_ab: Number = ranged(0, 1, doc="LAB a/b shift, share of 255")
    warp_grid: int = ranged(2, 64, doc="control points per side of the input's random warp")
    warp_strength: Number = ranged(0, 0.25, doc="standard deviation of the warp's control-point moves, a share of "
                                                "the side; `0`: the input is the target (benchmarks/quality.md: "
                                                "`lite` sets 0 for the demo's hundreds of faces; a few dozen "
                                                "want 0.02)")
    mask_dilate: Number = ranged(0, 0.5, doc="how far the loss's face mask grows, a share of the side")
    background_weight: Number = ranged(0, doc="loss weight off the (grown) face mask")
    region_weight: Number = ranged(0, doc="loss weight on the eye and mouth hulls")
    occlusion: Number = ranged(0, 1, doc="share of inputs with an occluder pasted on (an ellipse or a box, "
                                         "7.5-30 % of the side across, flat or cut from another face, moving with "
                                         "the warp); the target stays the clean face and the mask's target leaves "
                                         "it out; `0`: off")


@dataclass
class LossConfig:
    ssim: Number = ranged(0, doc="weight of the SSIM term")
    l1: Number = ranged(0, doc="weight of the L1 term")
    gradient: Number = ranged(0, doc="weight of an L1 term on image gradients (sees edges a blur flattens)")
    mask: Number = ranged(0, doc="weight of the learned mask's MSE (`model.mask`)")
    grad_clip: Number = ranged(0, doc="largest gradient norm; `0`: off")


@dataclass
class TrainConfig:
    seed: int = ranged(0, 2 ** 63 - 1, doc="the seed of the weights, the held-out faces and every batch")
    iterations: Union[int, str] = ranged(1, also=("auto",), doc="training steps, each on `batch_size` faces of A "
                                                               "and of B; `auto`: until held-out reconstruction "
                                                               "stops improving (`stop`)")
    batch_size: int = ranged(1, doc="faces a side per step (shared by the processes of a multi-GPU run)")
    lr_schedule: str = one_of("constant", "cosine", doc="`constant` (`model.lr` throughout) or `cosine` (from "
                                                        "`model.lr` down to `lr_final` × it at the last iteration)")
    lr_final: Number = ranged(0, 1, doc="the cosine schedule's end, a share of `model.lr`")
    min_faces: int = ranged(1, doc="a faceset with fewer faces stops the run")
    holdout: Number = ranged(0, 0.25, doc="share of each faceset kept out of training (evaluate's reconstruction "
                                          "measures it; never more than a quarter)")
    holdout_min: int = ranged(0, doc="but at least this many faces (never more than a quarter of a faceset)")
    device: str = typed("`auto` (cuda when there is one), `cpu`, `cuda` or `cuda:N`")
    precision: str = one_of("auto", "fp32", "bf16", "fp16", doc="`auto`: bf16 on cuda (fp16 with a grad scaler "
                                                               "without bf16), bf16 on CPUs with native bf16 "
                                                               "kernels, else fp32; `fp16` on cuda only")
    channels_last: Union[bool, str] = one_of("auto", True, False, doc="`auto`: on cuda only (slower than NCHW on "
                                                                      "AVX2 CPUs)")
    compile: bool = typed("`torch.compile` the encoder and decoders")
    checkpoint_every: int = ranged(1, doc="iterations between checkpoints (also on SIGTERM/SIGINT)")
    preview_every: int = ranged(1, doc="iterations between rewrites of the live "
                                       "`results/checkpoints/<model>/preview.jpg`")
    log_every_s: Number = ranged(0, doc="seconds between progress lines (`logs/train/<model>.log`, a local run's "
                                        "terminal)")
    curve: CurveConfig = field(default_factory=CurveConfig)
    stop: StopConfig = field(default_factory=StopConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    model: ModelConfig = field(default_factory=ModelConfig)


@dataclass
class _Schema(TrainConfig):
    """What Hydra merges the YAML files into: ``TrainConfig`` with ``model`` open,
    since a preset may add keys its architecture reads (a model registered with
    ``@register``); ``check_ranges`` checks the keys ``ModelConfig`` declares."""

    model: Dict[str, Any] = field(default_factory=dict)


ConfigStore.instance().store(name=SCHEMA, node=_Schema)


def _settings(cls: type, prefix: str = "") -> Iterator[tuple[str, Any, Mapping]]:
    """(dotted key, type, metadata) of each setting of dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            yield from _settings(hints[f.name], f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", hints[f.name], f.metadata


# dotted key -> (type, metadata) of each setting
TRAIN_KEYS: dict[str, tuple[Any, Mapping]] = {key: (hint, meta) for key, hint, meta in _settings(TrainConfig)}


def list_presets(config_dir: str | Path) -> list[str]:
    """Names of the presets in ``config_dir/model``."""
    return sorted(p.stem for p in (Path(config_dir) / "model").glob("*.yaml"))


def compose_config(config_dir: str | Path, preset: str, overrides: list[str] = ()) -> DictConfig:
    """Compose ``config_dir/train.yaml`` with preset ``model/<preset>.yaml`` and
    Hydra ``overrides`` (e.g. ``["model.lr=1e-4", "iterations=200"]``) against
    ``TrainConfig``; returned as a plain (untyped) config, with ``preset`` added.

    Raises ConfigError naming the valid presets, or the override that does
    not apply, or the setting outside what its field takes.
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
    read = [config_dir / "model" / f"{preset}.yaml"]
    GlobalHydra.instance().clear()
    try:
        for override in OverridesParser.create().parse_overrides(list(overrides)):
            if group := check_reach(override, config_dir):
                read.append(config_dir / group / f"{override.value()}.yaml")
            elif not (override.is_delete() or override.is_sweep_override()):
                _check_override(override.input_line, override.key_or_group, override.value())
        check_yaml(config_dir / f"{PRIMARY}.yaml", config_dir, ("_self_", SCHEMA))
        for path in read:
            check_yaml(path, config_dir)
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3",
                                   job_name="swapflow_train"):
            cfg = compose(config_name=PRIMARY, overrides=[f"model={preset}", *overrides])
    except MissingConfigException as err:
        raise ConfigError(f"{err}") from err
    except (ConfigCompositionException, OverrideParseException) as err:
        raise ConfigError(_explain(err, list(overrides))) from err
    finally:
        GlobalHydra.instance().clear()
    check_ranges(cfg)
    # plain data, as a config file given to a trainer is: the schema has checked it
    cfg = OmegaConf.create(OmegaConf.to_container(cfg))
    cfg.preset = preset
    OmegaConf.set_struct(cfg, True)
    return cfg


def check_ranges(cfg: Mapping) -> None:
    """Raise ConfigError naming the first setting of ``TrainConfig`` that ``cfg``
    lacks or holds outside its field's type, range or words."""
    for key, (hint, meta) in TRAIN_KEYS.items():
        value = value_at(cfg, key)
        if value is MISSING or not _fits(value, hint, meta):
            raise ConfigError(f"training setting {key} is {'not set' if value is MISSING else _shown(value)}; "
                              f"it takes {_allowed(hint, meta)}")


def _check_override(line: str, key: str, value: object) -> None:
    """An override of a setting is of its type: Hydra parses it (``2`` is a number,
    ``yes`` text), but OmegaConf would turn 2 and yes into true, 7 into '7'."""
    if any(k.startswith(f"{key}.") for k in TRAIN_KEYS):  # a section: data, model, ...
        if not isinstance(value, Mapping):
            raise ConfigError(f"override {line!r} does not apply: {key} takes a mapping, not {value!r}")
        for name, item in value.items():
            _check_override(line, f"{key}.{name}", item)
        return
    if key not in TRAIN_KEYS:
        return  # a key TrainConfig lacks: Hydra says so, or adds it (+key=...)
    hint, meta = TRAIN_KEYS[key]
    if value is not None and not meta.get("one_of") and not _same_kind(value, hint):
        raise ConfigError(f"override {line!r} does not apply: {key} takes {_kind(hint)}, not {value!r}")
    if not _fits(value, hint, meta):
        raise ConfigError(f"training setting {key} is {_shown(value)}; it takes {_allowed(hint, meta)}")


def value_at(cfg: Mapping, key: str) -> object:
    """The value at dotted ``key``, or MISSING where there is none (or it is ???)."""
    node: object = cfg
    for part in key.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        if OmegaConf.is_config(node) and OmegaConf.is_missing(node, part):
            return MISSING
        node = node[part]
    # plain: the items of a typed list of numbers iterate as OmegaConf's nodes
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _members(hint: Any) -> tuple[Any, ...]:
    return typing.get_args(hint) if typing.get_origin(hint) is Union else (hint,)


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is(value: object, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint``, strictly (a bool is no int)."""
    if typing.get_origin(hint) is Union:
        return any(_is(value, h) for h in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return _is_list(value) and all(_is(item, typing.get_args(hint)[0]) for item in value)
    return isinstance(value, hint) and not (hint in (int, float) and isinstance(value, bool))


def _same_kind(value: object, hint: Any) -> bool:
    """``_is``, but any number is of a number type and any list of a list type:
    the range check names what else they need."""
    if all(h in (int, float) for h in _members(hint)):
        return _is(value, Number)
    return _is_list(value) if typing.get_origin(hint) is list else _is(value, hint)


def _kind(hint: Any) -> str:
    if typing.get_origin(hint) is list:
        return "a list"
    if float in _members(hint):
        return "a number"
    return {bool: "true or false", int: "a whole number", str: "text"}[hint]


def _fits(value: object, hint: Any, meta: Mapping) -> bool:
    """Whether ``value`` is of ``hint`` and in the range, or of the words, of ``meta``."""
    words = meta.get("one_of", ())
    if any(value == word and type(value) is type(word) for word in words):
        return True
    if "high" not in meta:
        return not words and _is(value, hint)
    listed = typing.get_origin(hint) is list
    if listed and not _is_list(value):
        return False
    whole = float not in _members(typing.get_args(hint)[0] if listed else hint)
    low, above, high = meta["low"], meta["above"], meta["high"]
    return all(_is(item, int if whole else Number) and item <= high
               and (item > above if above is not None else item >= low)
               for item in (value if listed else [value]))


def _allowed(hint: Any, meta: Mapping) -> str:
    """What a setting takes, in words."""
    words = ", ".join(str(w).lower() if isinstance(w, bool) else w for w in meta.get("one_of", ()))
    if "high" not in meta:
        return f"one of {words}" if words else _kind(hint)
    listed = typing.get_origin(hint) is list
    what = "a number" if float in _members(typing.get_args(hint)[0] if listed else hint) else "a whole number"
    low, above, high = meta["low"], meta["above"], meta["high"]
    text = f"{what} above {above:g}" if above is not None else f"{what} of at least {low:g}"
    return (("a list, each item " if listed else "") + text + (f" and at most {high:g}" if high < INF else "")
            + (f" or {words}" if words else ""))


def _shown(value: object) -> str:
    return cut(repr(OmegaConf.to_container(value) if OmegaConf.is_config(value) else value))


def _explain(err: Exception, overrides: list[str]) -> str:
    """Name the offending override and the reason in Hydra's composition error."""
    chain, cause = [], err
    while cause is not None:
        chain.append(cause)
        cause = cause.__cause__
    text = "\n".join(map(str, chain))
    match = re.search(r"override '([^']+)'", text)
    key = match.group(1) if match else ""
    bad = [o for o in overrides if o == key or o.split("=", 1)[0].lstrip("+~") == key]
    which = bad[0] if bad else (key or ", ".join(overrides))
    lines = str(chain[-1]).splitlines()
    reason = lines[0]
    if isinstance(chain[-1], (ConfigAttributeError, ConfigKeyError)):  # not a field of TrainConfig
        key = getattr(chain[-1], "full_key", None) or key.split("=")[0]
        reason = f"{key} is not a key of the training config (add new keys with '+{key}=...')"
    elif len(lines) > 1:
        reason = "; ".join(lines[:2])
    return f"override {which!r} does not apply: {reason}" if which else f"the training config: {reason}"


def process_share(batch_size: int, processes: int) -> int:
    """The samples of each batch that each of ``processes`` training processes
    (``train.gpus``) builds; ConfigError unless they split evenly."""
    if batch_size % processes:
        raise ConfigError(f"batch_size {batch_size} does not split evenly over {processes} training "
                          f"processes (train.gpus); make it a multiple of {processes}")
    return batch_size // processes


def schedule_length(cfg: Mapping) -> int:
    """The last iteration a run may reach: ``iterations``, or ``stop.max_iterations`` when auto."""
    return int(cfg["stop"]["max_iterations"] if cfg["iterations"] == "auto" else cfg["iterations"])


def learning_rate(cfg: Mapping, iteration: int) -> float:
    """``model.lr`` along ``lr_schedule`` for the step after ``iteration``."""
    base = float(cfg["model"]["lr"])
    if cfg["lr_schedule"] == "constant":
        return base
    progress = min(iteration / schedule_length(cfg), 1.0)
    final = float(cfg["lr_final"])
    return base * (final + (1 - final) * (1 + math.cos(math.pi * progress)) / 2)


# the model keys that shape its weights: a model starts from another's only where they agree
ARCH_KEYS = ("arch", "size", "encoder", "dense", "bottleneck", "decoder", "res_blocks", "mask")


def check_same_architecture(source: Mapping, model: Mapping, source_name: str, model_name: str) -> None:
    """Refuse to start ``model`` (a ``model`` section) from ``source``'s weights
    unless every key that shapes them agrees; one line naming both."""
    differ = [f"model.{k} {source.get(k)} vs {model.get(k)}" for k in ARCH_KEYS if source.get(k) != model.get(k)]
    if differ:
        raise ConfigError(f"{source_name} ({source.get('arch')}, {source.get('size')} px) has another architecture "
                          f"than {model_name} ({model.get('arch')}, {model.get('size')} px): {'; '.join(differ)}")

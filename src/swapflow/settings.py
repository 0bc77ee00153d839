"""Every setting of the config's stage sections, declared once: a config section -> dataclasses.

Each stage's settings are a dataclass whose ``section`` names the config section
its keys live in. A field is declared with ``setting``: its default, its meaning
(config/README.md's tables and the schema's descriptions are made from it) and the
JSON-schema keywords that say what it takes. From these fields come

- ``section_schemas``: the schema of each section, merged into the workflow's
  schema (``with_sections``), which checks a config and fills in its defaults;
- ``from_mapping``: a dataclass from a plain mapping, refusing unknown keys and
  values the schema refuses, with the workflow's messages (the library checks
  what it is given without the workflow);
- ``section_values``: the keys one dataclass reads from a config section, with a
  swap's own keys on top (the workflow's params);
- the key tables of config/README.md: ``python -m swapflow.config config/README.md``
  rewrites them in place (``--check`` only compares).

Keys that no library stage reads (how the workflow cuts jobs, what a job asks
for) are fields of the small ``*JobConfig`` dataclasses, so every key of a
section is a field of exactly one dataclass.
"""

from __future__ import annotations

import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import Field, dataclass, field, fields
from functools import cache
from typing import Any, ClassVar, TypeVar

import jsonschema
import yaml

from swapflow.io import InputError

T = TypeVar("T")
MASK_TYPES = ("components", "extended", "mesh")
MASK_SOURCES = ("landmarks", "learned", "both")
BLENDS = ("alpha", "poisson")
OCCLUSIONS = ("hands", "reconstruction", "learned", "skin")


class ConfigError(InputError):
    """Settings or a config that cannot run; the message names the file or key."""


def cut(text: str, limit: int = 200) -> str:
    """``text`` for a message: at most ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class Sealed(dict):
    """Settings a rule passes its script: a plain dict to the script, and only
    their digest as text. Snakemake writes a job's params as text, unescaped,
    into the report's HTML, so a user string there (a path, a watermark) could
    run as script in the report. ``repr`` is the digest too: Snakemake records
    it to decide reruns and prints it in a rerun's reason ("Params have
    changed"), which would otherwise hold the whole settings twice per job."""

    def __str__(self) -> str:
        text = json.dumps(self, sort_keys=True, default=repr)
        return f"sealed:{hashlib.sha256(text.encode()).hexdigest()[:20]}"

    __repr__ = __str__


# ---- declaring a setting --------------------------------------------------------

SETTINGS: list[type] = []  # every settings dataclass, in the order of the config's sections


def setting(default: Any, doc: str, *, stills: bool = True, swap_adds: bool = False, **schema: Any) -> Any:
    """A settings field: its ``default``, its meaning ``doc`` (a row of
    config/README.md, the schema's description) and the JSON-schema keywords
    that check a value (``enum``, ``minimum``, ``pattern``, ...; the type comes
    from the field's annotation, an ``enum`` of a list field applies to its items).
    ``stills``: an extract key that also applies to finding the face in a
    reference still (rule ``reference``). ``swap_adds``: a list that a swap's own
    value is added to (after it) instead of replacing it."""
    return field(default=default, metadata={"doc": doc, "schema": schema, "stills": stills,
                                            "swap_adds": swap_adds})


def settings_section(cls: type[T]) -> type[T]:
    """Register a settings dataclass (its fields are keys of ``cls.section``) that
    checks its values as the workflow's schema does, however it is made (a list
    becomes a tuple)."""
    cls.__post_init__ = _check_values
    cls = dataclass(cls)
    SETTINGS.append(cls)
    return cls


def _check_values(self: Any) -> None:
    for f in config_fields(type(self)):
        if isinstance(getattr(self, f.name), list):
            setattr(self, f.name, tuple(getattr(self, f.name)))
    values = {f.name: _plain(getattr(self, f.name)) for f in config_fields(type(self))}
    problems = [problem(err, [self.section, *err.absolute_path])
                for err in _validator(type(self)).iter_errors(values)]
    if problems:
        raise ConfigError("\n".join(problems))


# ---- the settings, section by section ---------------------------------------------

@settings_section
class FramesConfig:
    """Rule ``split_frames`` (config section ``frames``)."""

    section: ClassVar[str] = "frames"
    format: str = setting("jpg", "`jpg` (a fifth of PNG's disk, read 6x faster: benchmarks/hd.md) or `png` "
                          "(lossless)", enum=["jpg", "png"])
    png_compression: int = setting(1, "PNG compression level 0–9 (1 is fast)", minimum=0, maximum=9)
    jpeg_quality: int = setting(95, "JPEG quality 1–100 (4:2:0 colour, as video sources hold it)",
                                minimum=1, maximum=100)
    stills_fps: str = setting("25", 'frame rate given to a folder of images, e.g. `"24000/1001"`',
                              pattern="^[1-9][0-9]*(/[1-9][0-9]*)?$")
    accept_damaged: bool = setting(
        False, "a video that decodes to fewer frames than its header promises (cut short, overwritten "
        "bytes) stops the split; `true` splits what decodes and records the frames lost in the probe, "
        "the log and the provenance record")


@settings_section
class DetectConfig:
    """Rule ``detect``: detection and raw landmarks (config section ``extract``)."""

    section: ClassVar[str] = "extract"
    # the names come from swapflow.detectors' registry (config.load_schema)
    detector: str = setting("mediapipe", "`mediapipe` (BlazeFace), `dlib-hog` (frontal faces only) or `dlib-cnn` "
                            "(slow: see `second_detector`); each detector's own settings are under its name "
                            "(the tables below)")
    threshold: float = setting(0.75, "minimum detection score; at 0.5 BlazeFace sees faces in cartoon titles",
                               minimum=0, maximum=1)
    min_size: float = setting(0.05, "smallest face kept, as box side / the frame's short side; with tiling "
                              "also the finest tile level (0.03 finds faces of 30 px at 720p, at about 3.5x "
                              "the tiling cost)", minimum=0, maximum=1)
    max_faces: int = setting(4, "most faces kept per frame (highest scores first)", stills=False, minimum=1)
    every_n: int = setting(1, "detect on frames whose index is a multiple of this; others get no row",
                           stills=False, minimum=1)
    landmarker: str = setting("dlib", "68-point landmarks: `dlib` (shape_predictor_68, fitted: see below) or "
                              "`mesh` (Face Mesh mapped to iBUG-68)", enum=["dlib", "mesh"])
    embeddings: bool = setting(False, "store the dlib 128-d identity embedding of every face (about 0.2 s a "
                               "face); always on for videos whose identity has `references`", stills=False)
    # the names come from swapflow.detectors' registry, and `none` (config.load_schema)
    second_detector: str = setting(
        "dlib-cnn", "a detector for the faces `detector` misses (pitched down or up, turned): on pictures "
        "(reference stills, a folder of stills) it runs beside `detector` and adds the faces that one did "
        "not find; on video, rule `align` runs it only on frames where a face was lost (`extract.track`). "
        "`dlib-cnn` costs about 1 s a 360p frame, 5 s a 720p one, on 2 cores; `none`: off")
    # not keys of the section: the detectors' own settings (config extract.<detector>),
    # and whether the frames are pictures (a folder of stills) rather than a video
    options: dict = field(default_factory=dict)
    second_options: dict = field(default_factory=dict)
    pictures: bool = False


@settings_section
class DetectJobConfig:
    """How the workflow cuts rule ``detect`` into jobs (section ``extract``)."""

    section: ClassVar[str] = "extract"
    shard_size: int = setting(1000, "frames per `detect` job; a longer video becomes several jobs (same "
                              "result as one)", minimum=1)


@settings_section
class AlignConfig:
    """Rule ``align``: smoothing, the aligned crop and target-face selection (section ``extract``)."""

    section: ClassVar[str] = "extract"
    size: int = setting(256, "side of the aligned face crop in pixels", minimum=64, maximum=1024)
    centering: str = setting("face", "`face` (the 68 points) or `head` (raised, 1.5× larger: forehead and "
                             "hair)", enum=["face", "head"])
    crop_fraction: float = setting(0.7, "share of the crop side that the face square fills",
                                   exclusiveMinimum=0, maximum=1)
    smoothing: bool = setting(True, "One Euro filter on landmarks over time: less jitter, no lag on fast "
                              "motion")
    smoothing_min_cutoff: float = setting(0.05, "filter cutoff (cycles per frame) when the face is still; "
                                          "lower smooths more", exclusiveMinimum=0)
    smoothing_beta: float = setting(5.0, "how fast the cutoff rises with speed; higher follows fast motion "
                                    "more tightly", minimum=0)
    identity_threshold: float = setting(0.6, "with references: a face is the identity's when its embedding "
                                        "distance is under this", exclusiveMinimum=0)
    keep_all: bool = setting(False, "keep every face of a frame instead of the identity's (or the largest)")


@settings_section
class TrackConfig:
    """Rule ``align``: faces the detector lost between frames of a video (section ``extract.track``)."""

    section: ClassVar[str] = "extract.track"
    max_gap: int = setting(5, "a face found before and after a run of at most this many frames without it is "
                           "predicted there (its box from its neighbours', landmarks fitted as on a detected "
                           "face, dropped where the fit does not settle) and marked `tracked` in the "
                           "alignments; 0: off", minimum=0)
    search: int = setting(12, "frames after a face is lost (and before one first appears) on which "
                          "`second_detector` looks for it near its last box, until it has missed it on this "
                          "many frames in a row; 0: off", minimum=0)


@settings_section
class MaskConfig:
    """Rule ``mask``: the mask types stored per face (section ``mask``)."""

    section: ClassVar[str] = "mask"
    types: tuple[str, ...] = setting(
        ("components", "extended"), "masks stored per face in `results/mask/{video}.npz`: `components` "
        "(hulls of the face parts), `extended` (reaching up over the forehead), `mesh` (Face Mesh face oval, "
        "run on the aligned crop)", enum=list(MASK_TYPES), minItems=1, uniqueItems=True)


@settings_section
class FacesetConfig:
    """Rule ``faceset``: which stored mask goes into the faceset (section ``mask``)."""

    section: ClassVar[str] = "mask"
    faceset_mask: str = setting("extended", "the mask put in the faceset for training; must be in `types`",
                                enum=list(MASK_TYPES))


@settings_section
class HandsConfig:
    """Rule ``hands``: hand tracking for the ``hands`` occlusion (section ``mask``)."""

    section: ClassVar[str] = "mask"
    hand_confidence: float = setting(0.5, "MediaPipe Hands' detection and tracking confidence in rule `hands` "
                                     "(runs for the target videos of swaps whose `convert.occlusion` has "
                                     "`hands`)", exclusiveMinimum=0, maximum=1)


@settings_section
class CurateConfig:
    """Rule ``faceset``: which kept faces training sees (section ``curate``); 0 turns a filter off."""

    section: ClassVar[str] = "curate"
    outlier_distance: float = setting(
        0.6, "remove a face whose dlib embedding lies farther than this from the video's median face "
        "(misdetections, another person); computed here unless the alignments have embeddings", minimum=0)
    blur: float = setting(0.5, "remove a face whose sharpness (variance of the Laplacian of its 256 px crop) "
                          "is below this fraction of the video's median", minimum=0, maximum=1)
    duplicate_distance: float = setting(
        0.001, "remove a face whose aligned landmarks moved less than this (mean point move, fraction of the "
        "crop side) since the last kept face with the same face number", minimum=0)
    pose_bin: float = setting(10.0, "degrees of a yaw x pitch bin, for `max_per_pose_bin`", exclusiveMinimum=0)
    max_per_pose_bin: int = setting(0, "keep at most this many faces of a pose bin, spread in time; 0: no cap",
                                    minimum=0)


@settings_section
class CoverageConfig:
    """Rule ``coverage``: when A's faces cover a target face's pose (section ``pose_coverage``)."""

    section: ClassVar[str] = "pose_coverage"
    radius: float = setting(10.0, "degrees (Euclidean in yaw and pitch) around a target face's pose",
                            exclusiveMinimum=0)
    min_faces: int = setting(3, "A's faces within the radius that cover it", minimum=1)


@settings_section
class TrainJobConfig:
    """The workflow's ``train`` section: what a model is trained with (the
    training config it composes) and what its job asks for."""

    section: ClassVar[str] = "train"
    preset: str = setting("lite", "a model/training preset in the workflow's `config/model/` (next to its "
                          "Snakefile, also when swapflow runs as a module of another project): `lite` (64 px, "
                          "small: the CPU demo), `original` (the classic 64 px shared-encoder model), "
                          "`dfaker128` (128 px, residual decoders, learns a mask)")
    overrides: tuple[str, ...] = setting(
        (), 'Hydra overrides of the composed config (`config/train.yaml` + preset), e.g. `["batch_size=8", '
        '"model.lr=1e-4", "precision=fp32"]`', swap_adds=True)
    iterations: int | str | None = setting(
        None, "training steps; `null` keeps the preset's; `auto`: until held-out reconstruction stops "
        "improving (the training config's `stop` keys), at most `stop.max_iterations`",
        anyOf=[{"type": "integer", "minimum": 1}, {"type": "null"}, {"const": "auto"}])
    threads: int = setting(2, "CPU threads (the job's cores), shared by its training processes", minimum=1)
    gpus: int = setting(
        1, "GPUs the job asks for (`resources: gpu`); more than 1 trains as that many data-parallel processes "
        "(DistributedDataParallel under torchrun), each on its share of the same total `batch_size` (which "
        "must be a multiple of `gpus`); on a machine without GPUs training runs on the CPU (N > 1: N gloo "
        "processes)", minimum=0)
    runtime: int = setting(720, "minutes: the cluster time limit of the first attempt; attempt N asks for N × "
                           "this, and a job killed at its limit resumes from its checkpoint on the retry",
                           minimum=1)
    mem_mb: int = setting(8000, "memory the job asks for", minimum=500)


@settings_section
class ConvertConfig:
    """Rule ``convert`` (config section ``convert``)."""

    section: ClassVar[str] = "convert"
    mask: str = setting("both", "blend mask: `landmarks`, `learned` (models that learn a mask: `model.mask`), "
                        "or `both` (their minimum; landmarks alone for models without a mask)",
                        enum=list(MASK_SOURCES))
    landmark_mask: str = setting("extended", "which landmark mask: `components`, `extended`, `mesh`",
                                 enum=list(MASK_TYPES))
    occlusion: tuple[str, ...] = setting(
        ("hands", "reconstruction", "skin"),
        "what is cut out of the face mask, so it stays as it was in the frame: `hands` (hands "
        "tracked by MediaPipe Hands in rule `hands`, `results/hands/{video}.parquet`), `reconstruction` "
        "(what the model cannot rebuild of the target's own face: objects, hair, anything it never learned), "
        "`learned` (what the model's learned mask leaves out of the landmark mask: a model with `model.mask` "
        "trained with `data.occlusion`), `skin` (what is not the colour of the face's own skin, nor as dark: "
        "patches, objects, dark hair; not a hand); each combines with any `mask`", enum=list(OCCLUSIONS),
        uniqueItems=True)
    hand_dilate: float = setting(0.25, "how far a hand's hull (of its 21 joint points) grows to reach the "
                                 "skin's edge, a share of the hand's wrist-to-knuckle length", minimum=0)
    occlusion_threshold: float = setting(
        3.0, "`reconstruction`: how far above the usual error at a pixel (in standard deviations of that "
        "pixel's error over the faces `occlusion_usual` names) the error must be to mark an occluder; lower "
        "finds more and eats more of clean faces", exclusiveMinimum=0)
    occlusion_usual: str = setting(
        "model", "`reconstruction`: whose error is usual: `model` (decoder B's on B's held-out training faces, "
        "stored with the model: an occluder in every frame of the target stands out) or `video` (64 faces "
        "spread over the target video: anything in all its frames is usual)", enum=["model", "video"])
    occlusion_frames: int = setting(1, "`reconstruction`: frames either side whose errors are averaged with a "
                                    "frame's, so the cut-out does not flicker", minimum=0)
    skin_threshold: float = setting(
        4.0, "`skin`: how far from the skin's chromaticity (in robust standard deviations of the face's own "
        "skin, measured on each face) a pixel must be to mark an occluder; lower finds more and eats more of "
        "clean faces", exclusiveMinimum=0)
    occlusion_min_area: float = setting(0.01, "`reconstruction`, `learned`, `skin`: the smallest patch that counts "
                                        "as an occluder, a share of the face square (specks are not occluders)",
                                        minimum=0, maximum=1)
    erode: float = setting(0.0, "shrink (positive) or grow (negative) the mask, as a fraction of the face "
                           "square", minimum=-0.5, maximum=0.5)
    feather: float = setting(0.04, "blur of the mask edge (sigma, fraction of the face square); the mask "
                             "always fades out inside the square", minimum=0, maximum=0.5)
    color: str = setting("rct", "colour matching: `none`, `average`, `rct` (Reinhard in LAB), `histogram`",
                         enum=["none", "average", "rct", "histogram"])
    blend: str = setting("alpha", "`alpha` (feathered mask) or `poisson` (seamless clone)", enum=list(BLENDS))
    sharpen: float = setting(0.0, "unsharp-mask amount on the swapped face", minimum=0, maximum=3)
    batch_size: int = setting(16, "faces per model call, whole batches of the video's faces whatever the "
                              "shard", minimum=1)
    patches: bool = setting(False, "also write each swapped face square as PNG with the matrix from frame "
                            "pixels to it (`results/patches/{swap}/{video}/{shard}/`, `index.json`), for "
                            "compositing elsewhere; these stay after merge")


@settings_section
class ConvertJobConfig:
    """How the workflow cuts rule ``convert`` into jobs (section ``convert``)."""

    section: ClassVar[str] = "convert"
    shard_size: int = setting(1000, "frames per `convert` job; a long video becomes several jobs (the same "
                              "frames as one, byte for byte); merge joins them", minimum=1)


@settings_section
class EvaluateJobConfig:
    """Whether the workflow's ``all`` evaluates (section ``evaluate``)."""

    section: ClassVar[str] = "evaluate"
    enabled: bool = setting(True, "build metrics, strips and the summary as part of `all`")


@settings_section
class EvaluateConfig:
    """Rule ``evaluate`` (config section ``evaluate``)."""

    section: ClassVar[str] = "evaluate"
    max_faces: int = setting(60, "swapped faces (evenly spread) measured for identity and pose (the dlib "
                             "embedding takes ~0.2 s a face); also the most passed-through frames measured for "
                             "`frames_passed_psnr`", minimum=1)
    reference_faces: int = setting(30, "faceset faces a side averaged into the identity references", minimum=1)
    holdout_faces: int = setting(64, "held-out faces a side used for reconstruction SSIM/PSNR", minimum=1)
    device: str = setting("cpu", "device the model runs on for reconstruction")


@settings_section
class MergeConfig:
    """Rule ``merge`` (config section ``merge``)."""

    section: ClassVar[str] = "merge"
    codec: str = setting("libx264", "video encoder: `libx264` (H.264) or `libx265` (HEVC, smaller files, "
                         "slower), the two that honour `crf` and `preset` (`copy` wrote MJPEG-in-mp4 and "
                         "ignored them)", enum=["libx264", "libx265"])
    crf: int = setting(18, "quality (0 lossless – 51 worst)", minimum=0, maximum=51)
    preset: str = setting("medium", "x264 speed preset", enum=["ultrafast", "superfast", "veryfast", "faster",
                                                              "fast", "medium", "slow", "slower", "veryslow"])
    pix_fmt: str = setting("yuv420p", "output pixel format (odd sizes switch to `yuv444p`)",
                           pattern="^[A-Za-z0-9_]+$")
    audio_codec: str = setting("copy", "`copy` keeps the source audio (AAC when mp4 cannot hold it), or an "
                               "encoder name", pattern="^[A-Za-z0-9_]+$")
    synthetic_tag: bool = setting(True, "tag the file as synthetic (`comment`, `synthetic` metadata)")
    watermark: str | None = setting(None, "text drawn in the bottom-right corner of every frame, exactly as "
                                    "written (no character is interpreted)")


# ---- the schema made from the fields ----------------------------------------------

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def _plain(value: Any) -> Any:
    """``value`` as JSON and YAML hold it: tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _json_type(hint: Any) -> dict[str, Any]:
    """The JSON-schema type of a field annotation: a scalar, an optional one, a tuple of one."""
    if typing.get_origin(hint) is tuple:
        return {"type": "array", "items": _json_type(typing.get_args(hint)[0])}
    if isinstance(hint, types.UnionType):
        return {"type": [_JSON_TYPES[arg] for arg in typing.get_args(hint)]}
    return {"type": _JSON_TYPES[hint]}


def _property(f: Field, hint: Any) -> dict[str, Any]:
    """The JSON-schema property of one field: type, its checks, default, description."""
    checks = dict(f.metadata["schema"])
    prop = {} if "anyOf" in checks else _json_type(hint)
    if prop.get("type") == "array" and "enum" in checks:
        prop["items"] = prop["items"] | {"enum": checks.pop("enum")}
    return prop | checks | {"default": _plain(f.default), "description": f.metadata["doc"]}


def config_fields(cls: type) -> list[Field]:
    """The fields of ``cls`` that are config keys: those declared with ``setting``
    (another field holds what the workflow passes, e.g. a plugin's options)."""
    return [f for f in fields(cls) if "doc" in f.metadata]


def properties(cls: type) -> dict[str, dict[str, Any]]:
    """The JSON-schema properties of the config fields of ``cls``, in their order."""
    hints = typing.get_type_hints(cls)
    return {f.name: _property(f, hints[f.name]) for f in config_fields(cls)}


def section_classes(section: str) -> list[type]:
    """The settings dataclasses whose fields are keys of ``section``."""
    return [cls for cls in SETTINGS if cls.section == section]


def section_schemas() -> dict[str, dict[str, Any]]:
    """{section: its JSON schema}: an object of exactly the keys its dataclasses
    declare, each with type, checks, default and description; missing, it is {}."""
    sections: dict[str, dict[str, Any]] = {}
    for cls in SETTINGS:
        schema = sections.setdefault(cls.section, {
            "type": "object", "default": {}, "additionalProperties": False,
            "description": f"see config/README.md, section {cls.section}", "properties": {}})
        schema["properties"] |= properties(cls)
    for name in sorted((n for n in sections if "." in n), key=lambda n: -n.count(".")):
        parent, _, key = name.rpartition(".")  # a plugin's: a key of its stage's section
        sections[parent]["properties"][key] = sections.pop(name)
    return sections


def with_sections(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's schema (videos, identities, swaps, experiments) with the
    sections of the settings added to its properties."""
    return {**schema, "properties": {**schema["properties"], **section_schemas()}}


# ---- one line per problem -------------------------------------------------------------

def problem(err: jsonschema.ValidationError, where: Iterable[Any] | None = None) -> str:
    """``key.path: what is wrong (what is allowed)`` in one line."""
    where = ".".join(map(str, err.absolute_path if where is None else where)) or "config"
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    if err.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = sorted(set(err.instance) - set(allowed))
        return (f"{where}: unknown key {cut(', '.join(map(repr, unknown)))}"
                + (f" (allowed: {', '.join(allowed)})" if allowed else ""))
    if err.validator == "enum":
        return f"{where}: {cut(repr(err.instance))} is not allowed (one of: {', '.join(map(str, err.validator_value))})"
    if err.validator == "pattern":
        return f"{where}: {cut(repr(err.instance))} does not match {err.validator_value}"
    return f"{where}: {cut(err.message)}"


# ---- from a mapping --------------------------------------------------------------------

@cache
def _validator(cls: type) -> jsonschema.Draft202012Validator:
    """Checks of the fields of ``cls`` declared with ``setting`` (a plain field has none)."""
    hints = typing.get_type_hints(cls)
    checks = {f.name: {k: v for k, v in _property(f, hints[f.name]).items() if k != "default"}
              for f in config_fields(cls)}
    return jsonschema.Draft202012Validator({"type": "object", "properties": checks})


def from_mapping(cls: type[T], values: Mapping[str, Any] | T | None) -> T:
    """``cls(**values)``: unknown keys raise ConfigError naming them and the known
    ones; a settings dataclass checks its values as the workflow's schema does,
    one line per problem (``section.key: ...``)."""
    if isinstance(values, cls):
        return values
    given = dict(values or {})
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{cls.section}: unknown setting {', '.join(map(repr, unknown))} "
                          f"(known here: {', '.join(known)})")
    return cls(**given)


def section_values(cls: type, section: Mapping[str, Any], own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keys of ``cls`` in a (validated) config section, in field order, with
    ``own`` (a swap's own keys) on top; a ``swap_adds`` list gets the swap's
    items after the section's."""
    own = own or {}
    return {f.name: [*section[f.name], *own.get(f.name, [])] if f.metadata["swap_adds"]
            else own.get(f.name, section[f.name]) for f in config_fields(cls)}


# ---- config/README.md's tables -----------------------------------------------------------

TABLE = re.compile(r"(<!-- settings table: (?P<section>[a-z_.-]+)[^\n]*-->\n)(.*?)(<!-- end of settings table -->)",
                   re.DOTALL)


def _default_text(value: Any) -> str:
    """A default as the config writes it: YAML flow style, a string that YAML
    would read as something else in double quotes."""
    value = _plain(value)
    if isinstance(value, str) and yaml.safe_load(value) != value:
        return f'"{value}"'
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()


def table(section: str) -> str:
    """The Markdown table of a section's keys: key, default, meaning."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{f.name}` | `{_default_text(f.default)}` | {f.metadata['doc']} |"
             for cls in section_classes(section) for f in config_fields(cls)]
    return "\n".join(rows) + "\n"


def readme_tables(text: str) -> str:
    """``text`` with each table between ``<!-- settings table: <section> ... -->``
    and ``<!-- end of settings table -->`` made again from the fields."""
    def fill(match: re.Match) -> str:
        if not section_classes(match["section"]):
            raise ConfigError(f"settings table: no settings of section {match['section']!r}")
        return match[1] + table(match["section"]) + match[4]
    return TABLE.sub(fill, text)

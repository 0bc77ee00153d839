"""One way for the library to take settings: a config section -> a dataclass.

Every stage's settings are a dataclass whose ``section`` names the config
section its keys live in; ``from_mapping`` builds one from a plain mapping and
refuses keys it does not know, naming them. Defaults live in the workflow's
schema; the dataclass defaults equal them (a test compares the two).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from swapflow.io import InputError

T = TypeVar("T")
MASK_SOURCES = ("landmarks", "learned", "both")
BLENDS = ("alpha", "poisson")
OCCLUSIONS = ("hands", "reconstruction")


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


def from_mapping(cls: type[T], values: Mapping[str, Any] | T | None) -> T:
    """``cls(**values)``; unknown keys raise ConfigError naming them and the known ones."""
    if isinstance(values, cls):
        return values
    given = dict(values or {})
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{cls.section}: unknown setting {', '.join(map(repr, unknown))} "
                          f"(known here: {', '.join(known)})")
    return cls(**given)


@dataclass
class FramesConfig:
    """Rule ``split_frames`` (config section ``frames``)."""

    section: ClassVar[str] = "frames"
    format: str = "jpg"  # jpg | png
    png_compression: int = 1
    jpeg_quality: int = 95
    stills_fps: str = "25"  # rate of a folder of images
    accept_damaged: bool = False  # split what decodes of a damaged video instead of stopping


@dataclass
class MergeConfig:
    """Rule ``merge`` (config section ``merge``)."""

    section: ClassVar[str] = "merge"
    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    audio_codec: str = "copy"
    synthetic_tag: bool = True
    watermark: str | None = None


@dataclass
class DetectConfig:
    """Rule ``detect``: detection and raw landmarks (config section ``extract``)."""

    section: ClassVar[str] = "extract"
    detector: str = "mediapipe"
    range: str = "auto"
    tiling: str = "auto"  # short-range BlazeFace on tiles too: auto | always | never
    threshold: float = 0.75  # 0.5 lets BlazeFace see faces in blurred cartoon text
    min_size: float = 0.05  # box side / min(frame width, height)
    max_faces: int = 4
    every_n: int = 1  # visit frames whose index is a multiple of every_n
    landmarker: str = "dlib"
    embeddings: bool = False  # ~220 ms a face; always on when references are given


@dataclass
class AlignConfig:
    """Rule ``align``: smoothing, the aligned crop and target-face selection (section ``extract``)."""

    section: ClassVar[str] = "extract"
    size: int = 256
    centering: str = "face"
    coverage: float = 0.7  # fraction of the crop side the face (or head) square fills
    smoothing: bool = True
    smoothing_min_cutoff: float = 0.05  # cycles per frame when still
    smoothing_beta: float = 5.0  # cutoff gain per (face sizes per frame) of speed
    identity_threshold: float = 0.6
    keep_all: bool = False


@dataclass
class MaskConfig:
    """Rule ``mask``: the mask types stored per face (section ``mask``)."""

    section: ClassVar[str] = "mask"
    types: tuple[str, ...] = ("components", "extended")


@dataclass
class HandsConfig:
    """Rule ``hands``: hand tracking for the ``hands`` occlusion (section ``mask``)."""

    section: ClassVar[str] = "mask"
    hand_confidence: float = 0.5  # MediaPipe Hands' detection and tracking confidence


@dataclass
class FacesetConfig:
    """Rule ``faceset``: which stored mask goes into the faceset (section ``mask``)."""

    section: ClassVar[str] = "mask"
    faceset_mask: str = "extended"


@dataclass
class CurateConfig:
    """Rule ``faceset``: which kept faces training sees (section ``curate``); 0 turns a filter off."""

    section: ClassVar[str] = "curate"
    outlier_distance: float = 0.6  # embedding distance to the video's median face above which a face goes
    blur: float = 0.5  # sharpness (fraction of the video's median) below which a face goes
    duplicate_distance: float = 0.001  # landmark move (fraction of the crop) below which a face repeats
    pose_bin: float = 10.0  # degrees of a yaw x pitch bin (for max_per_pose_bin)
    max_per_pose_bin: int = 0  # most faces kept from one pose bin; 0: no cap


@dataclass
class CoverageConfig:
    """Rule ``coverage``: when A's faces cover a target face's pose (section ``coverage``)."""

    section: ClassVar[str] = "coverage"
    radius: float = 10.0  # degrees of yaw and pitch around a target face
    min_faces: int = 3  # A's faces within the radius that cover it


@dataclass
class ConvertConfig:
    """Rule ``convert`` (config section ``convert``)."""

    section: ClassVar[str] = "convert"
    mask: str = "both"  # landmarks | learned | both (= landmarks for models without a mask)
    landmark_mask: str = "extended"
    occlusion: tuple[str, ...] = ("hands",)  # hands | reconstruction: what is cut out of the face mask
    hand_dilate: float = 0.25  # hand hull growth, a share of the hand's size
    occlusion_threshold: float = 3.0  # standard deviations above the usual reconstruction error: an occluder
    occlusion_frames: int = 1  # frames either side whose errors are averaged with a frame's
    occlusion_min_area: float = 0.01  # smallest patch kept as an occluder, a share of the face square
    erode: float = 0.0  # fraction of the face box side; negative dilates
    feather: float = 0.04  # blur sigma as a fraction of the face box side
    color: str = "rct"
    blend: str = "alpha"  # alpha | poisson (seamless clone)
    sharpen: float = 0.0  # unsharp-mask amount, 0 for none
    batch_size: int = 16  # faces per model call, whole batches of the video's faces
    patches: bool = False  # also write each swapped face crop and its matrix

    def __post_init__(self) -> None:
        if self.mask not in MASK_SOURCES:
            raise ConfigError(f"convert.mask must be one of {MASK_SOURCES}, not {self.mask!r}")
        if self.blend not in BLENDS:
            raise ConfigError(f"convert.blend must be one of {BLENDS}, not {self.blend!r}")
        self.occlusion = tuple(self.occlusion)
        unknown = sorted(set(self.occlusion) - set(OCCLUSIONS))
        if unknown:
            raise ConfigError(f"convert.occlusion: unknown {unknown}; choose from {OCCLUSIONS}")


@dataclass
class EvaluateConfig:
    """Rule ``evaluate`` (config section ``evaluate``)."""

    section: ClassVar[str] = "evaluate"
    max_faces: int = 60  # swapped faces for identity / pose metrics, passed frames for PSNR
    reference_faces: int = 30  # faceset faces a side for the identity reference
    holdout_faces: int = 64  # held-out faces a side for reconstruction
    device: str = "cpu"

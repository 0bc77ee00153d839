"""Every setting of the config's stage sections, declared once: a config section -> dataclasses.

Each stage's settings are a dataclass whose ``section`` names the config section
its keys live in, each field declared with ``setting`` (swapflow.schema: its
default, its meaning and what it takes; the schema, the library's checks and
config/README.md's tables are made from them).

Keys that no library stage reads (how the workflow cuts jobs, what a job asks
for) are fields of the small ``*JobConfig`` dataclasses, so every key of a
section is a field of exactly one dataclass.
"""

from __future__ import annotations

from dataclasses import field
from typing import ClassVar

from swapflow.occlusion import OCCLUSIONS
from swapflow.schema import setting, settings_section

MASK_TYPES = ("components", "extended", "mesh")
MASK_SOURCES = ("landmarks", "learned", "both")
BLENDS = ("alpha", "poisson")


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
    max_faces: int | None = setting(4, "most faces kept per video frame (highest scores first; a frame that "
                                    "loses faces to it is named in the log and counted in the curation "
                                    "table); `null`: every face found", stills=False, minimum=1)
    stills_max_faces: int | None = setting(None, "most faces kept per picture of a folder of stills; "
                                           "`null`: every face found (the identity's references pick "
                                           "the person)", stills=False, minimum=1)
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
                          "`dfaker128` (128 px, residual decoders, learns a mask), `df256` (256 px after DeepFaceLab's SAEHD `df`, "
                          "for a GPU)")
    overrides: tuple[str, ...] = setting(
        (), 'Hydra overrides of the composed config (`config/train.yaml` + preset), e.g. `["batch_size=8", '
        '"model.lr=1e-4", "precision=fp32"]`: each sets a key (`+key=` adds one, `~key` drops it) or picks a '
        'preset of `config/model/` (`model=original`); paths, Hydra\'s own settings (`hydra.*`), packages (`@`) '
        'and `${...}` are refused, and every YAML file Hydra reads has the config file\'s bounds (docs/training.md)',
        swap_adds=True)
    iterations: int | str | None = setting(
        None, "training steps; `null` keeps the preset's; `auto`: until held-out reconstruction stops "
        "improving (the training config's `stop` keys), at most `stop.max_iterations`",
        anyOf=[{"type": "integer", "minimum": 1}, {"type": "null"}, {"const": "auto"}])
    start_from: str | None = setting(
        None, "a finished model the training starts from, instead of random weights: a swap of this config "
        "(its model trains first), a model's name under `results/model/`, or a model folder's path. Its "
        "encoder, and the decoder of each identity both models have (matched by name, whatever its side), "
        "start this model; an identity it lacks gets a new decoder. The architecture must be the same "
        "(docs/training.md)", anyOf=[{"type": "string", "minLength": 1}, {"type": "null"}])
    freeze_encoder: int = setting(0, "with `start_from`: the first iterations in which the encoder stays as it "
                                  "came and only the decoders learn", minimum=0)
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
        "patches, objects, dark hair; not a hand); each combines with any `mask`; each source's own settings "
        "are under its name (the tables below)", enum=OCCLUSIONS.names,
        uniqueItems=True)
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
    # not a key of the section: the chosen occlusion sources' own settings (config convert.<source>)
    sources: dict = field(default_factory=dict)


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
    swap_faces: int = setting(60, "swapped faces (evenly spread) measured for identity and pose (the dlib "
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

"""Inputs that try to fool or attack the workflow: hostile labels, damaged video,
failed writes, odd paths, leftovers of killed jobs, odd image folders, bad names."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from swapflow.config import check_config, check_name, check_videos
from swapflow.extract import ReferenceStillError, embed_stills
from swapflow.frames import list_frames
from swapflow.io import InputError, atomic_path
from swapflow.settings import MergeConfig
from swapflow.schema import ConfigError
from swapflow.video.ffmpeg import Header, VideoError, ffmpeg_exe, read_header
from swapflow.video.merge import merge
from swapflow.video.probe import Probe
from swapflow.video.split import check_pictures, plan_decode, split
from tests.videos import describe

FAST = {"preset": "ultrafast", "crf": 0}


def grab(path: Path, frame: int) -> np.ndarray:
    out = path.with_name(f"{path.stem}-{frame}.png")
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(path), "-vf",
                    f"select=eq(n\\,{frame})", "-frames:v", "1", str(out)], check=True)
    return cv2.imread(str(out)).astype(int)


@pytest.fixture(scope="module")
def gray(tmp_path_factory):
    """A flat grey 320x180 clip of 30 frames, split: whatever a label draws shows."""
    root = tmp_path_factory.mktemp("label")
    subprocess.run([ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i",
                    "color=c=gray:s=320x180:r=30:d=1", "-c:v", "libx264", "-qp", "0",
                    str(root / "gray.mp4")], check=True)
    return root, split(root / "gray.mp4", root / "f", root / "p.json")


HOSTILE = [
    "it's AI, really",
    "100% fake",
    "%{pts} %{n} %{localtime}",
    "a\\:b; [c] {d} $HOME",
    # tries to close the text and add filters of its own: a red frame, a file drawn in
    "x':enable=0,drawbox=w=iw:h=ih:color=red:t=fill,drawtext=textfile=/etc/hostname:text='y",
]


@pytest.mark.parametrize("label", HOSTILE)
def test_watermark_is_drawn_as_written(gray, label, tmp_path):
    root, probe = gray
    merge([root / "f"], probe, tmp_path / "marked.mp4", cfg=FAST | {"watermark": label})
    first, last = grab(tmp_path / "marked.mp4", 0), grab(tmp_path / "marked.mp4", 29)
    background = np.median(first.reshape(-1, 3), axis=0)
    drawn = np.abs(first - background).sum(axis=2) > 30
    rows, cols = np.nonzero(drawn)
    assert drawn.sum() > 100, "no label drawn"
    assert rows.min() > 180 // 2, "something drawn above the label's line"
    red = (first[..., 2] > 150) & (first[..., 1] < 100) & (first[..., 0] < 100)
    assert not red.any(), "a filter of the label's own was run"
    assert np.abs(first - last).max() <= 2, "the label changes over time: it was expanded"


def test_different_labels_draw_differently(gray, tmp_path):
    root, probe = gray
    shots = []
    for i, label in enumerate(["its AI", "it's AI"]):
        merge([root / "f"], probe, tmp_path / f"{i}.mp4", cfg=FAST | {"watermark": label})
        shots.append(grab(tmp_path / f"{i}.mp4", 0))
    assert (np.abs(shots[0] - shots[1]).sum(axis=2) > 30).sum() > 10, "the apostrophe was lost"


def damaged_copies(demo_dir: Path, tmp_path: Path) -> dict[str, Path]:
    data = (demo_dir / "WolfgangLanger_Pexels.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 2 // 3])
    small = (demo_dir / "single_face.mp4").read_bytes()
    middle = len(small) // 2
    overwritten = tmp_path / "overwritten.mp4"
    overwritten.write_bytes(small[:middle] + bytes(range(256)) * 60 + small[middle + 15360:])
    return {"cut": cut, "overwritten": overwritten}


@pytest.mark.parametrize("kind", ["cut", "overwritten"])
def test_damaged_video_stops_naming_file_frames_and_error(demo_dir, tmp_path, kind):
    bad = damaged_copies(demo_dir, tmp_path)[kind]
    with pytest.raises(VideoError) as err:
        split(bad, tmp_path / "frames", tmp_path / "p.json")
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{bad}: damaged: ") and " frames decoded; first decode error: " in message
    assert not (tmp_path / "frames").exists() and not (tmp_path / "p.json").exists()
    assert not list(tmp_path.glob(".frames*"))


def test_damaged_video_accepted_on_request_records_the_loss(demo_dir, tmp_path):
    bad = damaged_copies(demo_dir, tmp_path)["overwritten"]
    probe = split(bad, tmp_path / "frames", tmp_path / "p.json", cfg={"accept_damaged": True})
    assert probe.frames == len(list_frames(tmp_path / "frames")) < 72
    assert probe.frames_lost == probe.frames_expected - probe.frames > 2
    assert probe.decode_errors > 0 and probe.first_decode_error
    assert Probe.load(tmp_path / "p.json").frames_lost == probe.frames_lost


def test_whole_video_records_no_loss(demo_dir, tmp_path):
    probe = split(demo_dir / "noface_face.mov", tmp_path / "f", tmp_path / "p.json")
    assert probe.frames == 169 and probe.frames_lost == 0 and probe.decode_errors == 0


def _limited_split(source: Path, out: Path) -> subprocess.CompletedProcess:
    """``split`` in a process whose files may not grow past 10 kB (a frame is more)."""
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))
    code = ("import sys\nfrom swapflow.video.ffmpeg import VideoError\nfrom swapflow.video.split import check_pictures, plan_decode, split\n"
            "try:\n    split(sys.argv[1], sys.argv[2], sys.argv[3])\n"
            "except VideoError as err:\n    print(err); sys.exit(3)")
    return subprocess.run([sys.executable, "-c", code, str(source), str(out / "frames"),
                           str(out / "p.json")], capture_output=True, text=True,
                          preexec_fn=limit)


@pytest.mark.parametrize("stills", [False, True])
def test_write_failure_is_named_as_such(demo_dir, tmp_path, stills):
    source = demo_dir / "single_face.mp4"
    if stills:
        source = tmp_path / "stills"
        source.mkdir()
        for i in range(3):
            noise = np.random.default_rng(i).integers(0, 255, (480, 640, 3), np.uint8)
            cv2.imwrite(str(source / f"{i}.bmp"), noise)
    (tmp_path / "out").mkdir()
    res = _limited_split(source, tmp_path / "out")
    assert res.returncode == 3, res.stderr[-2000:]
    message = res.stdout.strip()
    assert message.startswith(f"{tmp_path / 'out' / 'frames'}: could not write ")
    assert "File too large" in message or "file size limit exceeded" in message
    assert "decode" not in message


def test_merge_failures_say_what_failed(gray, tmp_path):
    root, probe = gray
    with pytest.raises(ConfigError, match=r"merge.codec: 'nosuch' is not allowed"):
        MergeConfig(codec="nosuch")  # refused before ffmpeg runs, however the settings are made
    with pytest.raises(VideoError, match=r"could not encode the video: .*nosuch"):
        merge([root / "f"], probe, tmp_path / "o.mp4", cfg={"pix_fmt": "nosuch"})
    code = ("import sys\nfrom swapflow.video.ffmpeg import VideoError\nfrom swapflow.video.merge import merge\n"
            "from swapflow.video.probe import Probe\n"
            "try:\n    merge([sys.argv[1]], Probe.load(sys.argv[2]), sys.argv[3])\n"
            "except VideoError as err:\n    print(err); sys.exit(3)")
    res = subprocess.run([sys.executable, "-c", code, str(root / "f"), str(root / "p.json"),
                          str(tmp_path / "o.mp4")], capture_output=True, text=True,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000)))
    assert res.returncode == 3 and "o.mp4: could not write the video: " in res.stdout
    assert not (tmp_path / "o.mp4").exists()


ODD = "it's a \"$test\" 100% ü; [x],y"


@pytest.mark.parametrize("name", ["single_face.mp4", "noface_face.mov"])
def test_any_characters_in_paths(demo_dir, tmp_path, name):
    """Quotes, spaces, %, $, unicode in the project folder and the video's name; .mov is VFR."""
    folder = tmp_path / ODD
    folder.mkdir()
    clip = folder / f"{ODD}{Path(name).suffix}"
    shutil.copy(demo_dir / name, clip)
    probe = split(clip, folder / "frames", folder / "p.json")
    merge([folder / "frames"], probe, folder / "out.mp4", cfg=FAST | {"watermark": ODD})
    out = describe(folder / "out.mp4")
    assert out["frames"] == probe.frames and out["audio"] == probe.audio


FAKE_STREAM = "Stream #0:0: Video: h264, yuv420p, 64x64"
FAKE_FRAME = "[Parsed_showinfo_0 @ 0x1] n: 0 pts: 99 pts_time:9 s:64x64"


@pytest.mark.parametrize("name", [f"x {FAKE_STREAM} y.mp4", f"x\n  {FAKE_STREAM}\n{FAKE_FRAME}\ny.mp4",
                                  "Invalid data found.mp4", "x\n  Display Matrix: rotation of 90.00 degrees.mp4"])
def test_a_video_s_name_is_never_read_as_its_stream(demo_dir, tmp_path, name):
    """ffmpeg prints a file's name in the log swapflow reads stream facts from:
    a name that looks like a stream, a frame, an error or a rotation changes nothing."""
    clip = tmp_path / name
    shutil.copy(demo_dir / "single_face.mp4", clip)
    header = read_header(clip)
    assert (header.width, header.height, header.rotation) == (640, 360, 0)
    probe = split(clip, tmp_path / "frames", tmp_path / "p.json")
    assert (probe.width, probe.height, probe.frames) == (640, 360, 72)
    assert probe.timestamps == pytest.approx(describe(demo_dir / "single_face.mp4")["timestamps"], abs=1e-6)


def test_a_video_s_tags_are_never_read_as_its_stream(demo_dir, tmp_path):
    """A title tag holding a stream line, a frame line and an error is only a tag."""
    clip = tmp_path / "tagged.mp4"
    title = f"a\n  {FAKE_STREAM}\n{FAKE_FRAME}\nInvalid data found"
    res = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(demo_dir / "single_face.mp4"), "-c", "copy",
                          "-metadata", f"title={title}", "-metadata:s:v", f"title={title}", str(clip)])
    assert res.returncode == 0 and FAKE_STREAM.encode() in clip.read_bytes()
    probe = split(clip, tmp_path / "frames", tmp_path / "p.json")
    assert (probe.width, probe.height, probe.frames, probe.decode_errors) == (640, 360, 72, 0)
    assert probe.timestamps == pytest.approx(describe(demo_dir / "single_face.mp4")["timestamps"], abs=1e-6)


def test_pictures_of_another_size_than_the_header_s_are_refused(tmp_path):
    plan = plan_decode("file:/proc/self/fd/3", Header(width=64, height=64))
    with pytest.raises(VideoError, match=r"clip.mp4: ffmpeg decoded 640x360 pictures where its header said 64x64"):
        check_pictures(tmp_path / "clip.mp4", plan, ["640x360"] * 3)
    check_pictures(tmp_path / "clip.mp4", plan, ["64x64"] * 3)
    turned = plan_decode("file:/proc/self/fd/3", Header(width=640, height=360, rotation=270))
    check_pictures(tmp_path / "clip.mp4", turned, ["360x640"])


@pytest.mark.parametrize("name", ["pipe:1", "concat:a.mp4", "http://localhost/x.mp4"])
def test_file_names_are_never_protocols(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(VideoError, match="does not exist"):
        read_header(name)
    Path(name.replace("/", "_")).write_text("not a video")
    with pytest.raises(VideoError, match="not a video"):
        read_header(name.replace("/", "_"))


def test_stale_temporaries_of_a_killed_writer_are_removed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    alive = tmp_path / f".out.mp4.tmp{proc.pid}"
    try:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout.strip()
        for left in (f".out.mp4.tmp{dead}", f".out.mp4.tmp{dead}.ffconcat"):
            (tmp_path / left).write_text("left by kill -9")
        (tmp_path / f".frames.tmp{dead}").mkdir()
        alive.write_text("still being written")
        with atomic_path(tmp_path / "out.mp4") as tmp:
            tmp.write_text("done")
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == sorted([".frames.tmp" + dead, alive.name, "out.mp4"])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_image_folder_takes_every_format_opencv_reads(tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    image = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)
    for i, suffix in enumerate([".ppm", ".pgm", ".pbm", ".bmp", ".tiff", ".webp", ".jp2",
                                ".sr", ".png", ".JPG"]):
        grey = suffix in (".pgm", ".pbm")
        assert cv2.imwrite(str(folder / f"{i:02d}{suffix}"), image[..., 0] if grey else image), suffix
    (folder / "README.txt").write_text("not an image")
    probe = split(folder, tmp_path / "frames", tmp_path / "p.json")
    assert probe.frames == 10 and (probe.width, probe.height) == (64, 48)


def test_image_folder_of_mixed_sizes_is_one_line(tmp_path):
    folder = tmp_path / "stills"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.ppm"), np.zeros((48, 64, 3), np.uint8))
    cv2.imwrite(str(folder / "b.pgm"), np.zeros((40, 64), np.uint8))
    with pytest.raises(VideoError) as err:
        split(folder, tmp_path / "frames", tmp_path / "p.json")
    assert str(err.value) == (f"{folder / 'b.pgm'}: size 64x40 differs from 64x48 of a.ppm; "
                              "the images of a folder must share one size")


def png_declaring(path: Path, width: int, height: int) -> Path:
    """A valid PNG of a few hundred bytes whose header declares width x height
    (its one compressed row stands for the whole image: a decompression bomb)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(bytes(1 + 3 * width), 9)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("width, height, shown", [(30000, 30000, "declares 900 million pixels"),
                                                  (12000, 6000, "declares 12000x6000 pixels")])
def test_an_image_declaring_too_many_pixels_is_not_decoded(tmp_path, width, height, shown):
    """Read from the header, before any decoding: in a folder of stills and as a
    reference still (the job grew to 7 GB and died by SIGSEGV)."""
    folder = tmp_path / "stills"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((48, 64, 3), np.uint8))
    bomb = png_declaring(folder / "b.png", width, height)
    assert bomb.stat().st_size < 2000
    limit = rf"{shown}, more than the 67 million pixels swapflow reads; not decoded"
    with pytest.raises(VideoError, match=rf"{bomb}: {limit}"):
        split(folder, tmp_path / "frames", tmp_path / "p.json")
    with pytest.raises(ReferenceStillError, match=rf"reference still {bomb}: {limit}"):
        embed_stills("man", [bomb])


def hdr_declaring(path: Path, width: int, height: int) -> Path:
    """A Radiance HDR of a kilobyte whose header declares width x height (Pillow
    does not read HDR: OpenCV meets the size)."""
    path.write_bytes(b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n" + f"-Y {height} +X {width}\n".encode() + bytes(1000))
    return path


def png_with_profile(path: Path, profile_bytes: int) -> Path:
    """A 16x16 PNG carrying an ICC profile of ``profile_bytes`` (compressed to a few hundred KB)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(3 * 16) for _ in range(16))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0))
                     + chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(bytes(profile_bytes), 9))
                     + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: hdr_declaring(p / "b.hdr", 20000, 20000), "declares more than the 67 million pixels"),
    (lambda p: hdr_declaring(p / "b.hdr", 9000, 9000), "declares more than the 67 million pixels"),
    (lambda p: png_with_profile(p / "b.png", 200_000_000), r"an image swapflow cannot read \(ValueError: "
                                                           "Decompressed data too large"),
])
def test_an_image_that_fails_deep_in_a_decoder_is_named(tmp_path, make, message):
    """Sizes OpenCV refuses in C++ and chunks Pillow refuses: one line naming the
    file, in a folder of stills and as a reference still."""
    folder = tmp_path / "stills"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.zeros((48, 64, 3), np.uint8))
    bad = make(folder)
    with pytest.raises(VideoError, match=rf"{bad}: {message}"):
        split(folder, tmp_path / "frames", tmp_path / "p.json")
    with pytest.raises(ReferenceStillError, match=rf"reference still {bad}: {message}"):
        embed_stills("man", [bad])


def test_a_video_of_too_many_pixels_a_frame_is_refused_from_its_header(tmp_path):
    """A video of 1.3 MB whose frames are 9000x8000 (3 GB of frames for 3 seconds):
    the config check and split refuse it before decoding."""
    clip = tmp_path / "big.mkv"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=black:s=9000x8000:d=0.12:r=25",
                    "-c:v", "mjpeg", str(clip)], check=True)
    limit = "its frames are 9000x8000 pixels, more than the 67 million pixels swapflow reads; not decoded"
    with pytest.raises(ConfigError, match=rf"videos.big: {clip}: {limit}"):
        check_videos({"big": str(clip)})
    with pytest.raises(VideoError, match=rf"{clip}: {limit}"):
        split(clip, tmp_path / "frames", tmp_path / "p.json")
    assert not (tmp_path / "frames").exists()


@pytest.mark.parametrize("suffix, keep", [(".jpg", 0.86), (".jpg", 0.5), (".png", 0.7), (".webp", 0.9)])
def test_a_cut_image_says_truncated(tmp_path, suffix, keep):
    """A still cut short is named as such (OpenCV decoded the rest as grey and
    went on), in a folder of stills and as a reference still."""
    folder = tmp_path / "stills"
    folder.mkdir()
    image = cv2.GaussianBlur(np.random.default_rng(1).integers(0, 255, (240, 320, 3), np.uint8), (5, 5), 0)
    for name in ("a", "b"):
        cv2.imwrite(str(folder / f"{name}{suffix}"), image)
    cut = folder / f"b{suffix}"
    cut.write_bytes(cut.read_bytes()[: int(cut.stat().st_size * keep)])
    with pytest.raises(VideoError, match=rf"{cut}: (truncated|damaged) image"):
        split(folder, tmp_path / "frames", tmp_path / "p.json")
    with pytest.raises(ReferenceStillError, match=rf"reference still {cut}: (truncated|damaged) image"):
        embed_stills("man", [cut])


@pytest.mark.parametrize("name, problem", [
    ("man\n", "may hold only"),
    ("a" * 65, "longer than 64"),
    ("summary.tsv", "ends like a file name (.tsv)"),
    ("clip.MP4", "ends like a file name (.MP4)"),
    ("passthrough", "is reserved"),
    ("../up", "may hold only"),
    (".hidden", "may hold only"),
    (3, "is not text"),
])
def test_bad_names_are_refused(name, problem):
    with pytest.raises(ConfigError, match=re.escape(problem)):
        check_name("swaps", name)


@pytest.mark.parametrize("name", ["man", "woman_2", "take.v2", "A-1"])
def test_good_names_pass(name):
    check_name("videos", name)




def test_a_fifo_is_not_read_as_a_still(tmp_path):
    """A FIFO as a reference still stops the dry run's config check (the
    reference job would wait on it for ever), and read_image refuses it."""
    fifo = tmp_path / "ref.jpg"
    os.mkfifo(fifo)
    config = {"videos": {}, "identities": {"man": {"videos": [], "references": [str(fifo)]}}, "swaps": [],
              "mask": {"faceset_mask": "components", "types": ["components"]}}
    with pytest.raises(ConfigError, match=rf"identities.man.references: {fifo}: not a regular file \(a FIFO"):
        check_config(config)
    with pytest.raises(ReferenceStillError, match=rf"reference still {fifo}: not a regular file"):
        embed_stills("man", [fifo])
    config["identities"]["man"]["references"] = [str(tmp_path / "gone.jpg")]
    with pytest.raises(ConfigError, match=r"identities.man.references: .*gone.jpg: file does not exist"):
        check_config(config)


def test_a_fifo_is_not_read_as_a_video(tmp_path):
    """A FIFO (or device) named as a video is refused by its type: ffmpeg would
    wait on it for ever, even in a dry run."""
    fifo = tmp_path / "clip.mp4"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match=rf"videos.man: {fifo}: not a regular file \(a FIFO"):
        check_videos({"man": str(fifo)})
    with pytest.raises(ConfigError, match=r"videos.zero: /dev/zero: not a regular file"):
        check_videos({"zero": "/dev/zero"})


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (FileNotFoundError, ProcessLookupError):  # it has ended
        return []


def _waiting_ffmpeg(pid: int) -> bool:
    """Whether ``pid`` is an ffmpeg blocked opening a FIFO; False once it has ended
    (a child can end between being listed and being looked at)."""
    try:
        return (b"ffmpeg" in Path(f"/proc/{pid}/cmdline").read_bytes()
                and Path(f"/proc/{pid}/wchan").read_text() == "wait_for_partner")
    except (FileNotFoundError, ProcessLookupError):
        return False


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def test_a_killed_job_leaves_no_ffmpeg(tmp_path):
    """The ffmpeg a job starts dies with it, also when it writes nothing to the
    job (so no broken pipe would stop it): here it waits for ever on a FIFO no
    one writes, and the job that started it is killed by SIGKILL."""
    fifo = tmp_path / "never.mp4"
    os.mkfifo(fifo)
    code = "import sys; from swapflow.report import clip_page; clip_page(sys.argv[1], sys.argv[2])"
    job = subprocess.Popen([sys.executable, "-c", code, str(fifo), str(tmp_path / "clip.html")],
                           stderr=subprocess.DEVNULL)
    ffmpeg = []
    for _ in range(100_000):  # until its ffmpeg waits on the FIFO (counted, not timed)
        ffmpeg = [c for c in _children(job.pid) if _waiting_ffmpeg(c)]
        if ffmpeg or job.poll() is not None:
            break
        time.sleep(0.001)
    assert ffmpeg, "the job ended before its ffmpeg was seen waiting"
    job.send_signal(signal.SIGKILL)
    job.wait()
    try:
        for _ in range(100_000):
            if not _running(ffmpeg[0]):
                break
            time.sleep(0.001)
        assert not _running(ffmpeg[0]), "ffmpeg outlived the job that started it"
    finally:
        if _running(ffmpeg[0]):
            os.kill(ffmpeg[0], signal.SIGKILL)


class _Runs:
    """Unpickling this calls ``Path.touch``: code a pickle runs."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return Path.touch, (self.path,)


@pytest.mark.parametrize("content, reason", [
    ("torchscript", r"it is a TorchScript archive, which carries code"),
    ("payload", r"it holds getattr, not only tensors and plain values"),  # how a pickle names Path.touch
    ("legacy", r"it holds getattr, not only tensors and plain values"),
    ("noise", r"it is damaged or holds more than tensors and plain values"),
])
def test_a_model_or_checkpoint_that_carries_code_is_one_line(tmp_path, content, reason):
    """Wherever a model or checkpoint is read (convert and evaluate load_model,
    training's checkpoints and start_from), a file holding code is named in one
    line, without torch's advice to load it unsafely, and runs nothing."""
    import torch

    from swapflow.train.checkpoint import read
    from swapflow.train.model_io import load_model

    weights = tmp_path / "model" / "model.pt"
    weights.parent.mkdir()
    if content == "torchscript":
        torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), str(weights))
    elif content == "noise":
        weights.write_bytes(np.random.default_rng(0).bytes(5000))
    else:
        torch.save({"state_dict": {}, "config": _Runs(tmp_path / "ran")}, weights,
                   _use_new_zipfile_serialization=content != "legacy")
    for load, what in [(lambda: load_model(weights.parent), "model"),
                       (lambda: read(weights, torch.device("cpu")), "checkpoint")]:
        with pytest.raises(InputError) as err:
            load()
        assert str(err.value).startswith(f"{weights} is not a {what} swapflow can read safely ({reason}); ")
        assert "weights_only" not in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "ran").exists()

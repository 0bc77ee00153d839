"""Occlusion: the woman's hands are tracked and kept out of the swap, and what
the model cannot rebuild of a target face is cut out of its mask."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from swapflow.alignments import kept_faces, matrices
from swapflow.faceset import load_faceset
from swapflow.blending import face_mask, face_view
from swapflow.convert import convert_frames
from swapflow.anatomy import POINTS
from swapflow.geometry import transform_points, warp
from swapflow.frames import frame_index, list_frames, read_frame, write_frame
from swapflow.mask import make_mask
from swapflow.occlusion import Scene
from swapflow.occlusion.hands import hand_mask, hands_by_frame, track_hands
from swapflow.occlusion.learned import learned_occlusion
from swapflow.occlusion.reconstruction import Reconstruction, ReconstructionOptions, reconstruction_mask
from swapflow.reconstruction import reconstruction_errors, usual_error
from swapflow.occlusion.skin import skin_occlusion
from swapflow.settings import ConvertConfig, FramesConfig
from swapflow.train.model_io import load_model
from tests.training import lite_model

PNG = FramesConfig(format="png")


@pytest.fixture(scope="module")
def hands(woman):
    return track_hands(woman.frames, kept_faces(woman.alignments)["frame"])


@pytest.fixture(scope="module")
def trained(man, woman, tmp_path_factory) -> Path:
    """The folder of a lite model trained 30 iterations with the woman as B (its rebuild of her is a rough blur)."""
    root = tmp_path_factory.mktemp("occlusion")
    lite_model(root, man, woman, 30)
    return root / "model"


@pytest.fixture(scope="module")
def model(trained):
    return load_model(trained)[0]


def test_hands_are_found_where_she_covers_her_face(woman, hands):
    """Her hands cross her face from frame 58 to 230 of the clip and never before or after."""
    found = set(hands["frame"])
    frames = set(kept_faces(woman.alignments)["frame"])
    during = {f for f in frames if 64 <= f <= 224}
    assert len(found & during) >= 0.8 * len(during), f"hands in {sorted(found & during)} of {sorted(during)}"
    assert not {f for f in found if f < 50 or f > 240}, "a hand where there is none"
    assert all(len(points) == 42 for points in hands["landmarks"])


def test_hand_mask_covers_the_hand_and_grows_with_dilate(woman, hands):
    faces = kept_faces(woman.alignments)
    at = hands_by_frame(hands)
    frame = sorted(at)[len(at) // 2]
    matrix = matrices(faces[faces["frame"] == frame])[0]
    tight, grown = (hand_mask(at[frame], matrix, 256, d) for d in (0.0, 0.25))
    assert tight.sum() > 0.03 * 256 ** 2, "a hand over the face covers a good part of its crop"
    assert grown.sum() > 1.2 * tight.sum() and (grown >= tight).all()
    assert not hand_mask([], matrix, 256, 0.25).any()


def _hand_pixels(woman, hands, frame: int) -> np.ndarray:
    """Frame pixels inside both her tracked hand (undilated) and her face's landmark mask."""
    faces = kept_faces(woman.alignments)
    row = next(faces[faces["frame"] == frame].itertuples())
    matrix = np.asarray(row.matrix, np.float64).reshape(2, 3)
    box = (0, 0, 256)
    inside = hand_mask(hands_by_frame(hands)[frame], matrix, 256, 0.0) * face_mask(
        row, box, _crop(woman.frames, row), make_mask("extended"), None, ConvertConfig())
    h, w = read_frame(woman.frames[0]).shape[:2]
    return cv2.warpAffine(inside, cv2.invertAffineTransform(matrix), (w, h), flags=cv2.INTER_NEAREST) > 0


def test_convert_keeps_her_hands_only_when_asked(woman, hands, model, tmp_path):
    with_hands = sorted(hands_by_frame(hands))[::4][:5]
    (tmp_path / "png").mkdir()
    for path in woman.frames:  # lossless frames: a pixel left alone is the same pixel
        if frame_index(path) in with_hands:
            write_frame(tmp_path / "png" / f"{path.stem}.png", read_frame(path), PNG)
    paths = list_frames(tmp_path / "png")
    kept = {}
    for occlusion in ((), ("hands",)):
        out = tmp_path / ("hands" if occlusion else "none")
        convert_frames(paths, woman.alignments, model, out, cfg={"occlusion": occlusion}, frames=PNG, hands=hands)
        shares = []
        for path in paths:
            inside = _hand_pixels(woman, hands, frame_index(path))
            before, after = read_frame(path), read_frame(out / path.name)
            shares.append((before == after).all(-1)[inside].mean())
        kept[occlusion] = float(np.mean(shares))
    assert kept[("hands",)] > 0.99, f"only {kept[('hands',)]:.1%} of her hand pixels are left as they were"
    assert kept[()] < 0.2, "without occlusion the swap paints over her hands"


def test_convert_without_a_hands_table_tracks_them_itself(woman, hands, model, tmp_path):
    """The library call without rule hands' table tracks the hands of the given
    video's frames: the same frames as with the table."""
    frame = sorted(hands_by_frame(hands))[len(hands) // 2]
    (tmp_path / "png").mkdir()
    for path in woman.frames:
        write_frame(tmp_path / "png" / f"{path.stem}.png", read_frame(path), PNG)
    video = list_frames(tmp_path / "png")
    todo = [p for p in video if frame_index(p) == frame]
    convert_frames(todo, woman.alignments, model, tmp_path / "table", frames=PNG, hands=hands, video_frames=video)
    convert_frames(todo, woman.alignments, model, tmp_path / "own", frames=PNG, video_frames=video)
    name = todo[0].name
    assert (read_frame(tmp_path / "table" / name) == read_frame(tmp_path / "own" / name)).all()


def _crop(frames: list[Path], row) -> np.ndarray:
    """The aligned crop (256 pixels) of the face of ``row`` in its video's ``frames``."""
    path = next(p for p in frames if frame_index(p) == row.frame)
    return warp(read_frame(path), np.asarray(row.matrix, np.float64).reshape(2, 3), 256)


def _card_on_her_cheek(woman, pasted, folder: Path) -> tuple[np.ndarray, list[Path]]:
    """A blue card over her right cheek, fixed to her face (aligned crop), pasted into
    frames ``pasted`` of her clip, written as PNG to ``folder``: (the card, the frames)."""
    faces = kept_faces(woman.alignments)
    frames = dict(zip(faces["frame"], matrices(faces)))
    folder.mkdir()
    card = np.zeros((256, 256), np.float32)
    cv2.rectangle(card, (60, 130), (110, 190), 1, -1)  # her right cheek in the aligned crop
    for path in woman.frames:
        image = read_frame(path)
        f = frame_index(path)
        if f in pasted:
            h, w = image.shape[:2]
            inside = cv2.warpAffine(card, cv2.invertAffineTransform(frames[f]), (w, h), flags=cv2.INTER_NEAREST) > 0
            image[inside] = (30, 60, 200)
        write_frame(folder / path.name, image, PNG)
    return card, list_frames(folder)


def test_reconstruction_finds_a_pasted_occluder_and_spares_clean_faces(woman, model, tmp_path):
    """A blue card pasted over her cheek in three frames, fixed to her face:
    reconstruction occlusion covers most of it and little of the faces without it."""
    faces = kept_faces(woman.alignments)
    clean = [f for f in faces["frame"] if f < 50]
    pasted = [f for f in faces["frame"] if f > 300][:3]
    card, video = _card_on_her_cheek(woman, pasted, tmp_path / "frames")
    cfg = ConvertConfig(occlusion=("reconstruction",))
    todo = [p for p in video if frame_index(p) in pasted + clean]
    source = _reconstruction(model, video, faces, todo)
    box = model.coverage_box(256)
    x0, y0, side = box
    ious, losses = [], []
    for row in faces[faces["frame"].isin(pasted + clean)].itertuples():
        crop = _crop(video, row)
        whole = face_mask(row, box, crop, make_mask("extended"), None, cfg)
        covered = (source.covered(face_view(row, box, crop, whole, None)) > 0.5) & (whole > 0.5)
        if row.frame in pasted:
            truth = (card[y0:y0 + side, x0:x0 + side] > 0) & (whole > 0.5)
            ious.append((covered & truth).sum() / (covered | truth).sum())
        else:
            losses.append(covered.sum() / (whole > 0.5).sum())
    assert min(ious) > 0.5, f"IoU with the card {ious}"
    assert np.mean(losses) < 0.06, f"clean faces lose {np.mean(losses):.1%} of their mask"


def test_an_occluder_in_every_frame_stands_out_against_the_models_usual_error(woman, trained, model, tmp_path):
    """A card on her cheek in every frame of the clip: against the video's own usual
    error it is usual (found nowhere), against decoder B's usual error on her held-out
    training faces (stored with the model: the same as measured again here) it is found."""
    assert model.usual_error is not None
    train_cfg = yaml.safe_load((trained / "config.yaml").read_text())
    manifest = json.loads((trained / "manifest.json").read_text())
    held = manifest["facesets"]["b"][0]["holdout_indices"]
    assert len(held) >= train_cfg["holdout_min"]
    faces_b = np.asarray(load_faceset(woman.faceset).faces)[held]
    errors = reconstruction_errors(model.coverage_crop(faces_b), model.swap(faces_b, to="b")[0])
    for stored, measured in zip(model.usual_error, usual_error(errors)):
        assert np.allclose(stored, measured, atol=1e-6)
    faces = kept_faces(woman.alignments)
    card, video = _card_on_her_cheek(woman, set(faces["frame"]), tmp_path / "frames")
    box = model.coverage_box(256)
    x0, y0, side = box
    found = {}
    for usual in ("video", "model"):
        cfg = ConvertConfig(occlusion=("reconstruction",))
        source = _reconstruction(model, video, faces, video[::4], usual=usual)
        ious = []
        for row in faces[faces["frame"].isin(frame_index(p) for p in video[::4])].itertuples():
            crop = _crop(video, row)
            whole = face_mask(row, box, crop, make_mask("extended"), None, cfg)
            covered = (source.covered(face_view(row, box, crop, whole, None)) > 0.5) & (whole > 0.5)
            truth = (card[y0:y0 + side, x0:x0 + side] > 0) & (whole > 0.5)
            ious.append((covered & truth).sum() / (covered | truth).sum())
        found[usual] = np.mean(ious)
    assert found["video"] < 0.1 and found["model"] > 0.5, found


def test_reconstruction_mask_needs_an_error_well_above_the_usual_one():
    """Errors 4 standard deviations above the usual one in a 20x20 spot, for every
    frame of the window: covered; the same spot in one frame of three: averaged
    away; outside the face, or smaller than the smallest patch asked for: not covered."""
    usual, spread = np.full((64, 64), 0.1, np.float32), np.full((64, 64), 0.02, np.float32)
    face = np.ones((64, 64), np.float32)
    high = usual.copy()
    high[20:40, 20:40] += 4 * (spread[0, 0] + 0.01)
    always = reconstruction_mask([high, high, high], usual, spread, face, 3.0, 0.01)
    assert always[22:38, 22:38].all() and always.sum() < 21 * 21
    assert not reconstruction_mask([usual, high, usual], usual, spread, face, 3.0, 0.01).any()
    outside = face.copy()
    outside[:, :30] = 0
    assert not reconstruction_mask([high], usual, spread, outside, 3.0, 0.01)[:, :30].any()
    assert not reconstruction_mask([high], usual, spread, face, 3.0, 0.1).any(), "a patch below min_area"


def test_learned_occlusion_is_what_the_learned_mask_leaves_out_of_the_face():
    """Where the landmark mask says face and the learned mask does not: covered; a
    learned mask that only trims the face's edge, or leaves out a speck, covers nothing."""
    face = np.zeros((64, 64), np.float32)
    cv2.ellipse(face, (32, 34), (22, 28), 0, 0, 360, 1, -1)
    learned = cv2.erode(face, np.ones((7, 7), np.uint8))   # the edge 3 pixels in
    assert not learned_occlusion(learned, face, 0.01).any()
    assert learned_occlusion(learned, np.ones_like(face), 0.0).any(), "a face whose edge is elsewhere"
    learned[40:52, 20:34] = 0.2   # a patch over the mouth
    learned[20, 20] = 0.0         # a speck
    found = learned_occlusion(learned, face, 0.01)
    assert found[41:51, 21:33].all() and found.sum() <= 12 * 14
    assert not found[:30].any()
    assert not learned_occlusion(learned, face, 0.1).any(), "a patch below min_area"


def test_shards_find_the_occlusion_of_one_run(man, model):
    """Reconstruction averages errors over neighbouring frames, in whole batches of the
    video's faces, and compares them with the video's usual error: a shard computes
    all three beyond its own frames, so two shards cut inside a window and a batch
    find exactly the occlusion of the whole run."""
    cfg = ConvertConfig(occlusion=("reconstruction",), occlusion_min_area=0.0, batch_size=8)
    faces = kept_faces(man.alignments)
    box = model.coverage_box(256)
    landmark = make_mask("extended")

    def found(paths) -> dict[int, np.ndarray]:
        source = _reconstruction(model, man.frames, faces, paths, cfg, frames=2, threshold=1.0)
        out = {}
        for row in faces[faces["frame"].isin([frame_index(p) for p in paths])].itertuples():
            crop = _crop(man.frames, row)
            out[row.frame] = source.covered(face_view(row, box, crop, face_mask(row, box, crop, landmark, None, cfg),
                                                      None))
        return out

    whole = found(man.frames)
    shards = found(man.frames[:26]) | found(man.frames[26:])  # found in frames 19-35
    assert sorted(shards) == sorted(whole)
    assert all((whole[f] == shards[f]).all() for f in whole)
    assert sum(m.sum() for m in whole.values()) > 0, "a threshold of 1 should find something"


def _reconstruction(model, video, faces, todo, cfg: ConvertConfig = ConvertConfig(),
                    **options) -> Reconstruction:
    """The ``reconstruction`` source of a convert job on ``todo`` of the frames of ``video``."""
    scene = Scene(model, {frame_index(p): p for p in video}, faces, list(todo), cfg.batch_size,
                  cfg.occlusion_min_area)
    return Reconstruction(scene, ReconstructionOptions(**options))


def _faces_of(video, step: int, frames=range(10 ** 6)):
    """Every ``step``-th kept face of ``video`` in ``frames``: (its aligned 256 crop, landmarks in it,
    landmark mask)."""
    landmark = make_mask("extended")
    faces = kept_faces(video.alignments)
    for row in list(faces[faces["frame"].isin(frames)].itertuples())[::step]:
        matrix = np.asarray(row.matrix, np.float64).reshape(2, 3)
        points = transform_points(np.asarray(row.landmarks, np.float64).reshape(POINTS, 2), matrix)
        yield _crop(video.frames, row), points, landmark(points, 256).astype(np.float32) / 255


def test_skin_spares_clean_faces_and_shading(woman, man):
    """Skin occlusion compares each face with its own skin: clean faces of both demo
    people lose almost nothing of their mask, and neither a face darkened as a whole
    nor one with a hard shadow over half of it is an occluder."""
    losses = []
    for video in (woman, man):
        for crop, points, face in _faces_of(video, 6):
            dark = (crop * 0.6).astype(np.uint8)
            shadow = crop.copy()
            shadow[:, :128] = (shadow[:, :128] * 0.5).astype(np.uint8)
            for image in (crop, dark, shadow):
                losses.append(skin_occlusion(image, points, face, 4.0, 0.01).sum() / face.sum())
    assert np.mean(losses) < 0.01 and np.quantile(losses, 0.9) < 0.02, (np.mean(losses), max(losses))


@pytest.mark.parametrize("colour", [(30, 60, 200), (70, 160, 90), (200, 40, 40), (25, 25, 30)])
def test_skin_finds_a_patch_unlike_her_skin(woman, colour):
    """A flat patch on her cheek (blue, green, red or near-black): skin occlusion covers
    most of it on every face without her hands (all but a ring of the smoothing's width)
    and adds little beyond it to what it finds on the face without the patch (a strand
    of her hair over the temple, which it rightly keeps, is no error of the patch's)."""
    patch = np.zeros((256, 256), np.uint8)
    patch[130:175, 62:105] = 1  # her right cheek in the aligned crop
    near = cv2.dilate(patch, np.ones((9, 9), np.uint8)) > 0
    found_share, beyond = [], []
    for crop, points, face in _faces_of(woman, 6, [*range(50), *range(240, 472)]):
        clean = skin_occlusion(crop, points, face, 4.0, 0.01) > 0.5
        crop[patch > 0] = colour
        truth = (patch > 0) & (face > 0.5)
        found = (skin_occlusion(crop, points, face, 4.0, 0.01) > 0.5) & ~clean
        found_share.append((found & truth).sum() / truth.sum())
        beyond.append((found & ~near).sum() / truth.sum())
    assert min(found_share) > 0.75 and np.mean(beyond) < 0.1, (found_share, beyond)


def test_convert_keeps_a_card_in_every_frame_with_skin(woman, model, tmp_path):
    """A card on her cheek in every frame of her clip, which B's decoder may have
    learned as her face: with ``skin`` the swap leaves (nearly) all of its pixels as
    they were, with either landmark mask; without occlusion it paints over them."""
    faces = kept_faces(woman.alignments)
    card, jpeg = _card_on_her_cheek(woman, set(faces["frame"]), tmp_path / "frames")
    (tmp_path / "png").mkdir()
    for path in jpeg:  # lossless frames: a pixel left alone is the same pixel
        write_frame(tmp_path / "png" / f"{path.stem}.png", read_frame(path), PNG)
    video = list_frames(tmp_path / "png")
    todo = video[::6]
    kept = {}
    for name, cfg in {"none": {"occlusion": ()}, "skin": {"occlusion": ("skin",)},
                      "skin, mesh": {"occlusion": ("skin",), "landmark_mask": "mesh"}}.items():
        out = tmp_path / name
        convert_frames(todo, faces, model, out, cfg=cfg, frames=PNG, video_frames=video)
        same = total = 0
        for path in todo:
            row = next(faces[faces["frame"] == frame_index(path)].itertuples())
            h, w = read_frame(path).shape[:2]
            inside = cv2.warpAffine(card, cv2.invertAffineTransform(np.asarray(row.matrix).reshape(2, 3)), (w, h),
                                    flags=cv2.INTER_NEAREST) > 0
            same += (read_frame(path) == read_frame(out / path.name)).all(-1)[inside].sum()
            total += inside.sum()
        kept[name] = same / total
    assert kept["skin"] > 0.95 and kept["skin, mesh"] > 0.95 and kept["none"] < 0.2, kept


def test_skin_finds_a_dark_bar_across_her_chin(woman):
    """A near-black bar across her chin, mostly below the face mask: what of it lies in
    the mask is found (the patch counts by its whole area, and the chin has no edge band)."""
    shares = []
    for crop, points, face in _faces_of(woman, 20):
        bar = np.zeros((256, 256), np.uint8)
        centre = points[8] + (points[33] - points[8]) * 0.1
        cv2.line(bar, tuple(np.round(centre - (30, 0)).astype(int)), tuple(np.round(centre + (30, 0)).astype(int)),
                 1, 16)
        crop[bar > 0] = (25, 25, 30)
        truth = (bar > 0) & (face > 0.5)
        found = skin_occlusion(crop, points, face, 4.0, 0.01) > 0.5
        shares.append((found & truth).sum() / max(truth.sum(), 1))
    assert np.mean(shares) > 0.7, shares

"""Invariants of training batches on the demo facesets: with its randomness off
a batch is the crop convert and evaluate use; the warp moves pixels by zero
on average; flip and rotation undo; the loss weights follow the face; an
occluder changes the input and the mask's target, never the face's."""

from __future__ import annotations


import cv2
import numpy as np
import pytest
import torch

from swapflow.anatomy import LEFT_EYE, MOUTH, RIGHT_EYE
from swapflow.faceset import load_faceset
from swapflow.train.config import compose_config
from swapflow.schema import ConfigError
from swapflow.train.data import FIXED_DRAWS, FaceBank, Sampler, uniforms
from swapflow.train.distributed import Group
from swapflow.train.models import build_model
from tests.conftest import TRAIN_CONFIG

OFF = ["data.rotation=0", "data.zoom=0", "data.shift=0", "data.flip=false", "data.jitter_l=0",
       "data.jitter_ab=0", "data.warp_strength=0"]


def _psnr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    mse = ((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean(axis=tuple(range(1, a.ndim)))
    return 10 * np.log10(255.0 ** 2 / np.maximum(mse, 1e-10))


def _images(t: torch.Tensor) -> np.ndarray:
    return (t.permute(0, 2, 3, 1).numpy() * 255).astype(np.float64)


@pytest.fixture(scope="module")
def faceset(woman):
    return load_faceset(woman.faceset)


def _sampler(faceset, overrides: list[str], preset: str = "lite") -> tuple[Sampler, object]:
    cfg = compose_config(TRAIN_CONFIG, preset, overrides)
    model = build_model(cfg.model)
    bank = FaceBank([faceset], [np.arange(len(faceset))], model.size, model.coverage,
                    float(cfg.data.mask_dilate), torch.device("cpu"), 0)
    return Sampler(cfg.data, bank, model.size, model.coverage, faceset.faces.shape[1]), model


@pytest.mark.parametrize("preset", ["lite", "dfaker128"])
def test_randomness_off_gives_the_convert_crop(faceset, preset):
    """No augmentation: input == target == FaceSwapModel.coverage_crop (what
    convert, evaluate and the preview feed the model), at every model size."""
    sampler, model = _sampler(faceset, OFF, preset)
    index = torch.arange(len(faceset))
    u = torch.from_numpy(uniforms(3, 7, 0, range(len(faceset)), sampler.draws).astype(np.float32))
    batch = sampler.sample(u, index)
    assert torch.equal(batch.warped, batch.target)
    crop = model.coverage_crop(np.asarray(faceset.faces))
    assert _psnr(_images(batch.target), crop).min() >= 40
    masks = model.coverage_crop(np.asarray(faceset.masks)).astype(np.float64) / 255
    assert np.abs(batch.mask[:, 0].numpy() - masks).mean() < 0.005


def test_warp_is_zero_mean_with_the_configured_spread(faceset):
    strength = 0.03
    sampler, model = _sampler(faceset, [*OFF[:-1], f"data.warp_strength={strength}"])
    n = 4000
    u = torch.from_numpy(uniforms(0, 1, 0, range(n), sampler.draws).astype(np.float32))
    d = sampler.displacement(u) * model.size / 2    # output pixels
    sigma = strength * model.size
    mean = d.mean(0)
    assert mean.abs().max() < 5 * sigma / n ** 0.5
    corners = d[:, [0, 0, -1, -1], [0, -1, 0, -1]]   # control points sit on the corner pixels
    assert corners.std(0).numpy() == pytest.approx(np.full((4, 2), sigma), rel=0.08)
    # in the images: the mean of many warped inputs of one face is the target
    # blurred, neither moved nor scaled (the old lattice shrank every input by 0.8)
    index = torch.zeros(512, dtype=torch.int64)
    batch = sampler.sample(u[:512], index)
    mean = batch.warped.mean(0).mean(0).numpy().astype(np.float64)
    target = batch.target[0].mean(0).numpy().astype(np.float64)
    (dx, dy), _ = cv2.phaseCorrelate(target, mean)
    assert abs(dx) < 0.1 and abs(dy) < 0.1
    size = model.size
    inner = (slice(8, -8), slice(8, -8))

    def err(zoom: float) -> float:
        m = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), 0, zoom)
        return float(np.abs(cv2.warpAffine(target, m, (size, size)) - mean)[inner].mean())

    assert err(1.0) < min(err(0.95), err(1.05))


def _with(u: torch.Tensor, **draws: float) -> torch.Tensor:
    """Draws ``u`` with the named fixed draws set (0.5 is no change)."""
    names = {"angle": 1, "zoom": 2, "shift_x": 3, "shift_y": 4, "flip": 5}
    u = u.clone()
    for name, value in draws.items():
        u[:, names[name]] = value
    return u


def test_flip_and_rotation_undo(faceset):
    sampler, _ = _sampler(faceset, ["data.rotation=10", "data.zoom=0", "data.shift=0", "data.flip=true",
                                    "data.jitter_l=0", "data.jitter_ab=0", "data.warp_strength=0"])
    n = 16
    index = torch.arange(n) * 3
    still = torch.full((n, sampler.draws), 0.5)
    plain = _images(sampler.sample(still, index).target)
    flipped = _images(sampler.sample(_with(still, flip=0.25), index).target)
    assert _psnr(flipped[:, :, ::-1], plain).min() > 45
    angle = 0.9   # 0.8 of the +-10 degrees
    turned = _images(sampler.sample(_with(still, angle=angle), index).target)
    size = plain.shape[1]
    # a positive angle turns the face clockwise on screen; cv2 turns counter-clockwise for positive angles
    back = cv2.getRotationMatrix2D(((size - 1) / 2, (size - 1) / 2), -8.0, 1.0)
    undone = np.stack([cv2.warpAffine(t, back, (size, size), flags=cv2.INTER_LINEAR) for t in turned])
    other = np.stack([cv2.warpAffine(t, cv2.invertAffineTransform(back), (size, size)) for t in turned])
    inner = (slice(None), slice(12, -12), slice(12, -12))
    assert _psnr(undone[inner], plain[inner]).min() > 30
    assert _psnr(other[inner], plain[inner]).mean() < _psnr(undone[inner], plain[inner]).mean() - 6


def _to_output(points: np.ndarray, m: np.ndarray, crop: int, size: int) -> np.ndarray:
    """Crop pixels -> output pixels of the sample whose matrix (output
    normalised -> crop normalised) is ``m``."""
    normal = (points + 0.5) * 2 / crop - 1
    out = np.linalg.solve(m[:, :2], (normal - m[:, 2]).T).T
    return (out + 1) * size / 2 - 0.5


def test_weights_cover_eyes_and_mouth_of_the_augmented_face(faceset):
    sampler, model = _sampler(faceset, ["data.rotation=15", "data.zoom=0.1", "data.shift=0.08",
                                        "data.warp_strength=0.02"])
    n = 48
    u = torch.from_numpy(uniforms(5, 11, 1, range(n), sampler.draws).astype(np.float32))
    index = (u[:, 0] * len(faceset)).long()
    batch = sampler.sample(u, index)
    matrices = sampler.matrices(u).numpy()
    region = float(sampler.cfg.region_weight)
    crop = faceset.faces.shape[1]
    background = (batch.weight == float(sampler.cfg.background_weight)).flatten(1).any(1)
    assert background.float().mean() > 0.9
    for k in range(n):
        marks = _to_output(faceset.landmarks[int(index[k])], matrices[k], crop, model.size)
        weight = batch.weight[k, 0].numpy()
        for part in (LEFT_EYE, RIGHT_EYE, MOUTH):
            x, y = np.round(marks[part].mean(0)).astype(int)
            assert weight[y, x] == region, (k, part)
        assert (weight[batch.mask[k, 0].numpy() > 0.5] >= 1).all()
        x, y = np.round(marks[30]).astype(int)   # the nose tip
        assert batch.mask[k, 0, y, x] > 0.9


def test_a_sample_depends_only_on_seed_iteration_side_and_position(faceset):
    sampler, _ = _sampler(faceset, ["data.warp_strength=0.02", "data.occlusion=0.5"])  # every draw in play
    whole = sampler.batch(0, 5, 1, range(0, 8))
    halves = [sampler.batch(0, 5, 1, range(0, 4)), sampler.batch(0, 5, 1, range(4, 8))]
    for name in ("warped", "target", "mask", "weight"):
        assert torch.equal(getattr(whole, name), torch.cat([getattr(h, name) for h in halves])), name
    assert not torch.equal(whole.warped, sampler.batch(0, 6, 1, range(0, 8)).warped)
    assert not torch.equal(whole.warped, sampler.batch(0, 5, 0, range(0, 8)).warped)
    u = uniforms(0, 5, 1, range(200), FIXED_DRAWS)
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.03


def test_occluders_cover_the_input_and_leave_the_target_and_the_mask_what_they_should(faceset):
    """data.occlusion: 1: every input gets an occluder; the target is still the
    convert crop, the input equals it wherever nothing is pasted, and the mask's
    target is the face mask less the occluder."""
    sampler, model = _sampler(faceset, [*OFF, "data.occlusion=1"])
    n = 48
    index = torch.arange(n) * 7 % len(faceset)
    u = torch.from_numpy(uniforms(2, 9, 0, range(n), sampler.draws).astype(np.float32))
    batch = sampler.sample(u, index, donor=index.flip(0))
    plain, _ = _sampler(faceset, OFF)
    clean = plain.sample(u, index)
    assert torch.equal(batch.target, clean.target)
    cover = sampler.cover(u[:, sampler.occluder:], sampler.base[None])
    assert torch.allclose(batch.mask, clean.mask * (1 - cover))
    free = (cover == 0).expand_as(batch.warped)
    assert torch.equal(batch.warped[free], clean.target[free])
    area = cover.flatten(1).mean(1)
    assert 0.01 < float(area.min()) and float(area.max()) < 0.4
    full = (cover == 1).expand_as(batch.warped)
    changed = (batch.warped - clean.target).abs()[full]
    assert float(changed.mean()) > 0.05   # something else is there
    flat = u[:, sampler.occluder + 1] < 1 / 3
    assert 0 < int(flat.sum()) < n
    for k in np.flatnonzero(flat.numpy()):
        inside = cover[k, 0] == 1
        colour = u[k, sampler.occluder + 9:sampler.occluder + 12]
        assert torch.allclose(batch.warped[k][:, inside], colour[:, None].expand(3, int(inside.sum())))
    # occlusion 0, or a draw above it: nothing pasted
    half, _ = _sampler(faceset, [*OFF, "data.occlusion=0.5"])
    spared = u[:, sampler.occluder] >= 0.5
    some = half.sample(u, index, donor=index.flip(0))
    assert 0 < int(spared.sum()) < n
    assert torch.equal(some.warped[spared], clean.warped[spared])
    assert torch.equal(some.mask[spared], clean.mask[spared])
    assert not torch.equal(some.warped[~spared], clean.warped[~spared])


def test_an_occluder_moves_with_the_warp_of_the_input(faceset):
    sampler, _ = _sampler(faceset, [*OFF[:-1], "data.warp_strength=0.04", "data.occlusion=1"])
    n = 16
    index = torch.arange(n)
    u = torch.from_numpy(uniforms(4, 1, 1, range(n), sampler.draws).astype(np.float32))
    u[:, sampler.occluder + 1] = 0.0   # flat occluders: where they are is plain to see
    batch = sampler.sample(u, index)
    o = u[:, sampler.occluder:]
    moved = sampler.cover(o, sampler.base[None] + sampler.displacement(u))
    still = sampler.cover(o, sampler.base[None])
    assert not torch.equal(moved, still)
    colour = o[:, 9:12, None, None]
    on_colour = ((batch.warped - colour).abs().amax(1, keepdim=True) < 1e-6)
    assert float(on_colour[moved == 1].float().mean()) == 1.0
    # where the warp moved it off, the face shows (a face pixel is rarely the drawn colour)
    assert float(on_colour[(still == 1) & (moved == 0)].float().mean()) < 0.05


def test_batch_positions_are_shared_out():
    """Each training process builds its share of every batch; a batch that does not split evenly is refused."""
    assert [Group(rank, 2, True).share(16) for rank in (0, 1)] == [range(0, 8), range(8, 16)]
    assert Group().share(16) == range(16)
    with pytest.raises(ConfigError, match="batch_size 16 does not split evenly over 3 training processes"):
        Group(1, 3, True).share(16)

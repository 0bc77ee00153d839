"""The training loop: a Trainer holds one run's model, optimizer and data and steps it, resumable and reproducible.

``train`` writes one model folder (swapflow.model_folder) at the end. While it
runs, ``checkpoint_dir`` holds a checkpoint (swapflow.train.checkpoint) every
``checkpoint_every`` iterations and on SIGTERM/SIGINT, with losses.csv,
curve.tsv and preview.jpg. A later call with the same config and facesets
resumes there; one that differs only in how long it trains continues from the
furthest checkpoint beside it that is not past its own end.

Started by torchrun, each process trains on its share of every batch
(swapflow.train.distributed); process 0 writes the files.
"""

from __future__ import annotations

import logging
import os
import random
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import DictConfig

from swapflow import model_folder as folder
from swapflow.faceset import Faceset
from swapflow.frames import spread, write_jpeg
from swapflow.io import atomic_path, project_path
from swapflow.logs import PROGRESS, hms
from swapflow.reconstruction import USUAL_FACES, decoder_errors, usual_error
from swapflow.schema import ConfigError
from swapflow.train import checkpoint, distributed, model_io, timelapse
from swapflow.train.config import check_ranges, learning_rate, schedule_length
from swapflow.train.curve import CurveMeter, stop_reason
from swapflow.train.data import SIDES, Batch, FaceBank, Sampler, load_facesets
from swapflow.train.device import autocast_dtype, channels_last, limit_threads, resolve_device
from swapflow.train.losses import face_loss
from swapflow.train.models import FaceSwapModel, build_model, preview_grid
from swapflow.train.signals import TrainingInterrupted, catch_signals
from swapflow.train.start import Start

log = logging.getLogger("swapflow.train")
progress = logging.getLogger(PROGRESS)  # also on the terminal of a local run


class _BothSides(torch.nn.Module):
    """A's and B's forward pass in one call (one encoder pass for both): the
    unit DistributedDataParallel synchronises (one all-reduce of the gradients per step)."""

    def __init__(self, model: FaceSwapModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[tuple, tuple]:
        return self.model.both(a, b)


class Trainer:
    """Holds the model, optimizer and data of one training run."""

    def __init__(self, cfg: DictConfig, facesets_a: list[str | Path], facesets_b: list[str | Path],
                 checkpoint_dir: str | Path, identities: tuple[str, str] = ("a", "b"),
                 threads: int = 2, start: Start | None = None) -> None:
        check_ranges(cfg)  # also a config given as a file, not composed here
        self.cfg = cfg
        self.checkpoint_dir = Path(checkpoint_dir)
        self.identities = dict(zip(("a", "b"), identities))
        limit_threads(threads)
        self.device = resolve_device(cfg.device, distributed.local_rank())
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        self.group = distributed.join(self.device)
        self.samples = self.group.share(int(cfg.batch_size))
        self.dtype = autocast_dtype(cfg.precision, self.device)
        self.channels_last = channels_last(cfg.channels_last, self.device)
        self.paths = {"a": [Path(p) for p in facesets_a], "b": [Path(p) for p in facesets_b]}
        self.loaded: dict[str, list[Faceset]] = {}
        self.facesets: dict[str, list[dict]] = {}
        for side, paths in self.paths.items():
            self.loaded[side], self.facesets[side] = load_facesets(self.identities[side], side, paths, cfg)
        self.auto = cfg.iterations == "auto"
        if self.auto and not all(e["holdout_indices"] for es in self.facesets.values() for e in es):
            raise ConfigError("iterations: auto stops on held-out faces, and a faceset has none "
                              "(raise holdout or holdout_min)")
        self.seed = int(cfg.seed)
        self.timelapse_faces = {side: timelapse.fixed_faces(self.loaded[side][0].faces,
                                                            self.facesets[side][0]["holdout_indices"])
                                for side in ("a", "b")}
        self._build_model()
        self.samplers = self._samplers()
        self.iteration = 0
        self.history: list[dict[str, float]] = []
        self.curve: list[dict[str, float]] = []  # learning-curve points, carried in checkpoints
        self.curve_seconds = 0.0
        self.stopped = ""  # why fit ended
        self.continued_from: str | None = None  # another run's checkpoint this one went on from
        self.start = start  # another model whose weights this run starts from
        self.started_from = start.record(self.identities) if start else None
        self._meter: CurveMeter | None = None
        # steps whose losses are still on the device: (iteration, lr, losses); read at log time
        self.pending: list[tuple[int, float, torch.Tensor]] = []
        self.loss_names: list[str] = []
        self.fingerprint, self.digest = checkpoint.fingerprint(
            cfg, {s: [e["hash"] for e in es] for s, es in self.facesets.items()},
            self.started_from and {k: self.started_from[k] for k in ("weights_sha256", "freeze_encoder")})

    def _build_model(self) -> None:
        """The model (seeded), what runs it (compiled, data-parallel), its optimizer and scaler."""
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)
        self.model: FaceSwapModel = build_model(self.cfg.model).to(self.device)
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        net = _BothSides(self.model)
        if self.group.joined:
            net = torch.nn.parallel.DistributedDataParallel(
                net, device_ids=[self.device] if self.device.type == "cuda" else None,
                gradient_as_bucket_view=True)
        self.net = torch.compile(net) if self.cfg.compile else net
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=float(self.cfg.model.lr),
                                          betas=tuple(self.cfg.model.betas),
                                          fused=self.device.type == "cuda")
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.dtype == torch.float16)

    def _samplers(self) -> dict[str, Sampler]:
        """Each side's batches, drawn from its training faces held on the device."""
        data = self.cfg.data
        budget = float(data.device_memory_gib) * 2 ** 30 / 2   # shared by the two sides
        samplers = {}
        for side, loaded in self.loaded.items():
            bank = FaceBank(loaded, [np.array(e["train_indices"]) for e in self.facesets[side]],
                            self.model.size, self.model.coverage, float(data.mask_dilate), self.device, budget)
            samplers[side] = Sampler(data, bank, self.model.size, self.model.coverage,
                                     loaded[0].faces.shape[1], self.channels_last)
        return samplers

    # ---- checkpoints -------------------------------------------------
    def save_checkpoint(self) -> None:
        """Every process calls it at the same step; process 0 writes."""
        distributed.check_same_weights(self.model, self.group, self.iteration)
        self._read_losses()
        if not self.group.main:
            return
        # batches are a pure function of seed and iteration: nothing in training
        # draws from numpy's or Python's generators, so torch's state is enough
        state = {"fingerprint": self.fingerprint, "iteration": self.iteration,
                 "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "scaler": self.scaler.state_dict(), "history": self.history, "curve": self.curve,
                 "rng": {"torch": torch.get_rng_state(),
                         "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}}
        checkpoint.write(self.checkpoint_dir, state, self.digest, self.history)

    def try_resume(self) -> bool:
        """Go on from the best of ``checkpoint.candidates`` whose state is this run's
        and not past its end; say why each one passed over is not used."""
        length, passed_over = schedule_length(self.cfg), 0
        for path, recorded in checkpoint.candidates(self.checkpoint_dir, self.digest, length):
            state = checkpoint.read(path, self.device)
            if why := checkpoint.unusable(state, recorded, self.fingerprint, length):
                log.warning("checkpoint %s %s: not used", path, why)
                passed_over += 1
                continue
            if recorded is not None and recorded != state["iteration"]:
                log.warning("checkpoint %s: its record says iteration %d, its weights %d; going by the "
                            "weights", path, recorded, state["iteration"])
            self._resume(path, state)
            return True
        if passed_over:
            log.warning("no checkpoint this run can go on from: training from the start")
        return False

    def _resume(self, path: Path, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        self.iteration = state["iteration"]
        self.history = state["history"]
        # a shorter run's point at its own end is off the grid: this run measures on it
        self.curve = [p for p in state["curve"] if p["iteration"] % self.cfg.curve.every == 0]
        rng = state["rng"]
        torch.set_rng_state(rng["torch"].cpu())
        if rng["cuda"] is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        if path.parent == self.checkpoint_dir:
            log.info("resumed from %s at iteration %d", path, self.iteration)
        else:
            self.continued_from = project_path(path)
            timelapse.carry_over(path.parent, self.checkpoint_dir, self.iteration, int(self.cfg.preview_every))
            log.info("continuing from %s at iteration %d (a shorter run of the same training; "
                     "it stays as it is)", path, self.iteration)

    # ---- one step ----------------------------------------------------
    def batches(self) -> dict[str, Batch]:
        """This process's share of the batches of the next iteration, on the device."""
        return {side: sampler.batch(self.seed, self.iteration + 1, SIDES[side], self.samples)
                for side, sampler in self.samplers.items()}

    def step(self, batches: dict[str, Batch], signum: int = 0) -> int:
        """One optimizer step on this process's share of the batches. Its
        losses stay on the device (``pending``) until ``_read_losses``. Returns
        ``signum``, or with several processes the largest any of them passed
        (a signal it caught, so that all stop together: the one read back per
        step that data-parallel training needs)."""
        self.optimizer.zero_grad(set_to_none=True)
        lr = learning_rate(self.cfg, self.iteration)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        a, b = batches["a"], batches["b"]
        with torch.autocast(self.device.type, dtype=self.dtype or torch.float32,
                            enabled=self.dtype is not None):
            out = self.net(a.warped, b.warped)
        terms = {side: face_loss(face, batch.target, batch.weight, mask, batch.mask, self.cfg.loss)
                 for side, batch, (face, mask) in zip("ab", (a, b), out)}
        total = terms["a"]["total"] + terms["b"]["total"]
        self.scaler.scale(total).backward()
        if self.start and self.iteration < self.start.freeze_encoder:
            for p in self.model.encoder.parameters():  # no gradient: Adam leaves it and its moments as they are
                p.grad = None
        if self.cfg.loss.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), float(self.cfg.loss.grad_clip))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        named = [(f"loss_{side}", terms[side]["total"]) for side in "ab"]
        named += [(f"{name}_{side}", value) for side in "ab" for name, value in terms[side].items()
                  if name != "total"]
        self.loss_names = [n for n, _ in named]
        values = torch.stack([v.detach().float() for _, v in named])
        if self.group.size > 1:
            rows = distributed.gather(torch.cat([values, values.new_tensor([float(signum)])]), self.group)
            values, signum = rows[:, :-1].mean(0), int(rows[:, -1].max())
        self.pending.append((self.iteration + 1, lr, values))
        return signum

    def _read_losses(self) -> None:
        """Move the pending steps' losses from the device into ``history`` (one read back)."""
        if not self.pending:
            return
        values = torch.stack([v for _, _, v in self.pending]).cpu().tolist()
        for (iteration, lr, _), row in zip(self.pending, values):
            self.history.append({"iteration": iteration, "lr": lr} | dict(zip(self.loss_names, row)))
        self.pending.clear()

    # ---- the loop ----------------------------------------------------
    def fit(self) -> dict[str, float]:
        """Train up to ``iterations``, or with ``iterations: auto`` until the stop rule
        fires on the learning curve (at most ``stop.max_iterations``); measure the
        curve every ``curve.every`` iterations. Returns speed figures of this call."""
        total = schedule_length(self.cfg)
        bs = int(self.cfg.batch_size)
        start_iter, curve_before = self.iteration, self.curve_seconds
        t_start = last_log = time.perf_counter()
        progress.info("training %s (%s) on %s, %s, channels_last %s, %d torch threads (OMP_WAIT_POLICY %s), "
                      "iterations %d..%d%s", self.cfg.preset, self.cfg.model.arch, self.device,
                      f"autocast {self.dtype}" if self.dtype else "fp32", self.channels_last,
                      torch.get_num_threads(), os.environ.get("OMP_WAIT_POLICY", "unset"), self.iteration + 1, total,
                      f"; process {self.group.rank} of {self.group.size}: faces {self.samples.start}.."
                      f"{self.samples.stop - 1} of each batch of {bs}" if self.group.joined else "")
        if self.group.main and self.iteration == 0:
            self.timelapse_frame()
        with catch_signals() as caught:
            while True:
                # every curve.every iterations, and at the end: the last point is the model's
                if ((self.iteration % self.cfg.curve.every == 0 or self.iteration >= total)
                        and self._curve_point()):
                    break
                if self.iteration >= total:
                    self.stopped = f"reached {'stop.max_iterations' if self.auto else 'iterations'} ({total})"
                    break
                signum = self.step(self.batches(), caught[0] if caught else 0)
                self.iteration += 1
                now = time.perf_counter()
                if self.group.main and (now - last_log >= self.cfg.log_every_s
                                        or self.iteration == total):
                    last_log = now
                    self._read_losses()
                    self._log_progress(self.history[-1], now - t_start, self.iteration - start_iter, total)
                if self.group.main and self.iteration % self.cfg.preview_every == 0:  # before a checkpoint
                    self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                    write_jpeg(self.checkpoint_dir / folder.PREVIEW, self.preview())
                    self.timelapse_frame()
                if self.iteration % self.cfg.checkpoint_every == 0 or signum:
                    self.save_checkpoint()
                if signum:
                    raise TrainingInterrupted(signum, self.iteration)
        self._read_losses()
        wall = time.perf_counter() - t_start
        done = self.iteration - start_iter
        curve = self.curve_seconds - curve_before
        progress.info("stopped at iteration %d: %s; the curve took %.1f s of %.1f s (%.1f %%)", self.iteration,
                      self.stopped, curve, wall, 100 * curve / max(wall, 1e-9))
        # samples/s of the training steps: the curve's time is apart
        return {"seconds": wall, "iterations": done, "curve_seconds": curve,
                "samples_per_s": 2 * bs * done / (wall - curve) if wall > curve else 0.0}

    def _curve_point(self) -> bool:
        """Measure the learning curve at this iteration (process 0, once: a resumed
        run keeps the points its checkpoint carries) and say whether ``iterations:
        auto`` stops here; every process gets process 0's answer."""
        reason = None
        # the stop rule reads points curve.every apart: the run's last point, off that grid, is not judged
        judge = self.auto and self.iteration % self.cfg.curve.every == 0
        if self.group.main:
            if not self.curve or self.curve[-1]["iteration"] < self.iteration:
                started = time.perf_counter()
                if self._meter is None:
                    holdout = {side: [(Path(p), np.array(e["holdout_indices"], int))
                                      for p, e in zip(self.paths[side], self.facesets[side])]
                               for side in self.paths}
                    self._meter = CurveMeter(self.cfg.curve, self.paths, holdout)
                self.curve.append({"iteration": self.iteration} | self._meter.measure(self.model))
                self.curve_seconds += time.perf_counter() - started
                self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
                with atomic_path(self.checkpoint_dir / folder.CURVE) as tmp:
                    pd.DataFrame(self.curve).to_csv(tmp, sep="\t", index=False)
                row = self.curve[-1]
                progress.info("curve at it %d: held-out masked PSNR A %.2f dB, B %.2f dB; swap distance to A "
                              "%.3f, sharpness %.2f (%.1f s)", self.iteration, row["recon_a_psnr_masked"],
                              row["recon_b_psnr_masked"], row["swap_distance_a"], row["swap_sharpness"],
                              time.perf_counter() - started)
            if judge:
                reason = stop_reason(self.curve, int(self.cfg.stop.window), float(self.cfg.stop.min_delta))
        if judge and self.group.size > 1:
            flag = distributed.gather(torch.tensor([float(reason is not None)], device=self.device), self.group)
            reason = reason or ("stopped by process 0's curve" if flag[0, 0] else None)
        if reason:
            self.stopped = reason
        return reason is not None

    def _log_progress(self, row: dict[str, float], elapsed: float, done: int, total: int) -> None:
        rate = done / elapsed
        eta = (total - self.iteration) / rate if rate > 0 else float("inf")
        progress.info("it %d/%d  loss_a %.4f  loss_b %.4f  %.1f samples/s  ETA %s",
                      self.iteration, total, row["loss_a"], row["loss_b"],
                      rate * 2 * self.cfg.batch_size, hms(eta))

    def timelapse_frame(self) -> None:
        """This iteration's frame of the timelapse (swapflow.train.timelapse)."""
        timelapse.write_frame(self.checkpoint_dir, timelapse.frame(self.model, self.timelapse_faces,
                                                                   self.iteration), self.iteration)

    def preview(self) -> np.ndarray:
        """The model on the first faceset of each side (``preview_grid``)."""
        return preview_grid(self.model, {side: self.loaded[side][0].faces for side in ("a", "b")})

    def usual_error(self) -> list[torch.Tensor] | None:
        """Decoder B's usual reconstruction error at each pixel on at most
        ``USUAL_FACES`` of B's held-out faces (``usual_error``: median, spread), for
        the ``reconstruction`` occlusion; None without held-out faces."""
        picks = [(fs, i) for fs, e in zip(self.loaded["b"], self.facesets["b"]) for i in e["holdout_indices"]]
        if not picks:
            return None
        picks = [picks[j] for j in spread(len(picks), USUAL_FACES)]
        errors = decoder_errors(self.model, np.stack([np.asarray(fs.faces[i]) for fs, i in picks]))
        return [torch.from_numpy(np.ascontiguousarray(a, np.float32)) for a in usual_error(errors)]

    def manifest(self, speed: dict[str, float], started: str) -> dict:
        return {"identities": self.identities,
                "facesets": {side: [{k: v for k, v in e.items() if k != "train_indices"}
                                    | {"identity": self.identities[side]} for e in entries]
                             for side, entries in self.facesets.items()},
                "preset": self.cfg.preset, "iterations": self.iteration, "stopped": self.stopped,
                "continued_from": self.continued_from, "started_from": self.started_from, "seed": self.seed,
                "device": str(self.device), "processes": self.group.size, "autocast": str(self.dtype),
                "channels_last": self.channels_last, "compile": bool(self.cfg.compile),
                "torch": torch.__version__, "started": started,
                "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "last_run": speed}

    def write_output(self, out: str | Path, speed: dict[str, float], started: str) -> Path:
        """Write the model folder (process 0 alone calls it), with the timelapse's last frame."""
        self.timelapse_frame()
        return model_io.write(out, self.model, self.cfg, self.identities, self.usual_error(),
                            self.manifest(speed, started), pd.DataFrame(self.history),
                            pd.DataFrame(self.curve), self.preview(), self.iteration if self.auto else None,
                            self.checkpoint_dir, self.iteration)


def train(cfg: DictConfig, facesets_a: list[str | Path], facesets_b: list[str | Path],
          out: str | Path, checkpoint_dir: str | Path, identities: tuple[str, str] = ("a", "b"),
          threads: int = 2, start: Start | None = None) -> Path:
    """Train (or resume) and write the model folder ``out``.

    ``start``: another model whose weights it starts from (unless it resumes).
    Raises FacesetError for unusable facesets, TrainingInterrupted after
    writing a checkpoint when SIGTERM/SIGINT arrives (``out`` is not written).
    """
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    trainer = Trainer(cfg, facesets_a, facesets_b, checkpoint_dir, identities, threads, start)
    if not trainer.try_resume() and start:
        start.apply(trainer.model, cfg, trainer.identities)
    speed = trainer.fit()
    progress.info("done: %d iterations in %.1f s, %.1f samples/s",
                  speed["iterations"], speed["seconds"], speed["samples_per_s"])
    if trainer.iteration > 0:  # the end state, its curve complete: a longer run goes on from it
        trainer.save_checkpoint()
    if trainer.group.main:
        trainer.write_output(out, speed, started)
    return Path(out)

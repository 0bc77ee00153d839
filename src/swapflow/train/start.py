"""Starting a training from another model's weights (faceswap's load-weights, DeepFaceLab's pretrained model).

The new model takes the source's encoder and, for each of its identities the
source also has (matched by name, on whichever side), that identity's
decoder; an identity the source lacks keeps its fresh decoder. For the first
``freeze_encoder`` iterations only the decoders learn.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig

from swapflow import model_folder
from swapflow.io import project_path
from swapflow.logs import PROGRESS
from swapflow.train.config import check_same_architecture
from swapflow.train.model_io import load_model
from swapflow.train.models import FaceSwapModel
from swapflow.video.probe import content_hash

progress = logging.getLogger(PROGRESS)


@dataclass(frozen=True)
class Start:
    """The model folder a training starts from and how long its encoder stays frozen."""

    folder: Path
    freeze_encoder: int = 0

    def digest(self) -> str:
        """The sha256 of the source's weights: what the new run's checkpoints are keyed by."""
        return content_hash(self.folder / model_folder.WEIGHTS)

    def decoders(self, identities: dict[str, str]) -> dict[str, str | None]:
        """For each side of the new model, the source's side of the same identity, or None."""
        theirs = {name: side for side, name in model_folder.read_manifest(self.folder)["identities"].items()}
        return {side: theirs.get(name) for side, name in identities.items()}

    def record(self, identities: dict[str, str]) -> dict:
        """What the manifest says of the start."""
        return {"model": project_path(self.folder), "weights_sha256": self.digest(),
                "decoders": self.decoders(identities), "freeze_encoder": self.freeze_encoder}

    def apply(self, model: FaceSwapModel, cfg: DictConfig, identities: dict[str, str]) -> None:
        """Copy the source's encoder and shared identities' decoders into ``model``
        (built from ``cfg``); another architecture raises ConfigError naming both."""
        source, source_cfg = load_model(self.folder, str(next(model.parameters()).device))
        check_same_architecture(source_cfg.model, cfg.model, f"model {project_path(self.folder)}",
                                f"this {cfg.preset} model")
        model.encoder.load_state_dict(source.encoder.state_dict())
        copied = {side: theirs for side, theirs in self.decoders(identities).items() if theirs is not None}
        for side, theirs in copied.items():
            model.decoders[side].load_state_dict(source.decoders[theirs].state_dict())
        progress.info("starting from %s: its encoder (frozen for %d iterations)%s", project_path(self.folder),
                      self.freeze_encoder, "".join(f", its decoder {theirs} as decoder {side} ({identities[side]})"
                                                   for side, theirs in copied.items()))

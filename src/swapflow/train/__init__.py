"""Training: shared-encoder face-swap autoencoders on two facesets.

Public API: ``compose_config``, ``train``, ``load_model`` (whose model has
``swap(faces, to="a"|"b")``), ``list_presets``.
"""

from swapflow.train.config import ConfigError, compose_config, list_presets
from swapflow.train.data import FacesetError
from swapflow.train.models import FaceSwapModel, build_model
from swapflow.train.trainer import TrainingInterrupted, load_model, train

__all__ = ["ConfigError", "FacesetError", "FaceSwapModel", "TrainingInterrupted", "build_model",
           "compose_config", "list_presets", "load_model", "train"]

"""Training: shared-encoder face-swap autoencoders on two facesets.

Public API: ``compose_config``, ``train``, ``load_model`` (whose model has
``swap(faces, to="a"|"b")``), ``list_presets``. Names are imported when first
used, so composing a config (the workflow does it at parse time) does not
import torch.
"""

import importlib

_HOME = {"ConfigError": "swapflow.settings", "compose_config": "swapflow.train.config",
         "list_presets": "swapflow.train.config", "model_name": "swapflow.train.config",
         "FacesetError": "swapflow.train.data", "FaceSwapModel": "swapflow.train.models",
         "build_model": "swapflow.train.models", "TrainingInterrupted": "swapflow.train.trainer",
         "load_model": "swapflow.train.trainer", "train": "swapflow.train.trainer"}
__all__ = sorted(_HOME)


def __getattr__(name: str):
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)

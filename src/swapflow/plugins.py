"""Plugins chosen by name: face detectors, landmarkers, masks, colour matchers, occlusion sources.

A plugin is a class (a colour matcher: a function) registered under a name:
a built-in one by its ``module:attribute`` path in its kind's registry
(``swapflow.detectors.DETECTORS``, ``landmarks.LANDMARKERS``, ``mask.MASKS``,
``color.COLOR_MATCHERS``, ``occlusion.OCCLUSIONS``), imported when first used
(a detector module when it is chosen), another with
``@REGISTRY.register(name)``. A plugin with settings of its own declares them
as an ``Options`` settings dataclass; the config gives them under the plugin's
name (``extract.mediapipe.tiling``, ``convert.skin.threshold``) and ``make``
builds the class with them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from swapflow.schema import ConfigError, from_mapping

T = TypeVar("T")


class Registry(Generic[T]):
    """The plugins of one kind (``detector``, ...), by name."""

    def __init__(self, kind: str, builtin: Mapping[str, str]) -> None:
        self.kind = kind
        self._paths = dict(builtin)  # name -> "module:Class", imported on first use
        self._loaded: dict[str, type[T]] = {}

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        def add(cls: type[T]) -> type[T]:
            self._loaded[name] = cls
            return cls
        return add

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys([*self._paths, *self._loaded]))

    def load_all(self) -> None:
        """Import every built-in plugin (their ``Options`` are settings sections)."""
        for name in self._paths:
            self.get(name)

    def get(self, name: str) -> type[T]:
        """The class registered as ``name``; ValueError naming the choices if none is."""
        if name not in self._loaded:
            if name not in self._paths:
                raise ValueError(f"unknown {self.kind} {name!r}; choose from {', '.join(self.names)}")
            module, _, attr = self._paths[name].partition(":")
            self._loaded[name] = getattr(importlib.import_module(module), attr)
        return self._loaded[name]

    def make(self, name: str, options: Mapping[str, Any] | None = None, **context: Any) -> T:
        """An instance of plugin ``name``: ``context`` (what its kind always gets)
        and, where the plugin declares ``Options``, those built from ``options``."""
        cls = self.get(name)
        kind = getattr(cls, "Options", None)
        if kind is None:
            if options:
                raise ConfigError(f"{self.kind} {name!r} takes no options, not {', '.join(options)}")
            return cls(**context)
        return cls(options=from_mapping(kind, options), **context)

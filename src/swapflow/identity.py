"""Identity embeddings (dlib 128-d), identity references and target-face selection."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import dlib
import face_recognition_models
import numpy as np
import pandas as pd

from swapflow.faceset import load_faceset
from swapflow.frames import spread
from swapflow.io import read_json, write_json


class Embedder:
    """dlib's ResNet face descriptor: same person when distance < ~0.6."""

    def __init__(self) -> None:
        self._model = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())

    def embed(self, image_rgb: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """128-d descriptor of the face with these 68 frame-pixel landmarks."""
        x0, y0 = landmarks.min(0)
        x1, y1 = landmarks.max(0)
        rect = dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        parts = dlib.points([dlib.point(int(round(x)), int(round(y))) for x, y in landmarks])
        shape = dlib.full_object_detection(rect, parts)
        return np.array(self._model.compute_face_descriptor(image_rgb, shape), dtype=np.float32)


def faceset_embedding(faceset_dirs: Sequence[str | os.PathLike], n: int, embedder: Embedder) -> np.ndarray:
    """Mean dlib embedding of at most ``n`` faces spread over the facesets,
    computed on the aligned crops with their stored crop landmarks."""
    sets = [load_faceset(d) for d in faceset_dirs]
    owners = [(k, i) for k, fs in enumerate(sets) for i in range(len(fs))]
    if not owners:
        raise ValueError(f"no faces in facesets {[str(d) for d in faceset_dirs]}")
    embs = [embedder.embed(np.ascontiguousarray(sets[k].faces[i]), np.asarray(sets[k].landmarks[i], np.float64))
            for k, i in (owners[j] for j in spread(len(owners), n))]
    return np.mean(embs, axis=0)


@dataclass
class Reference:
    """An identity's reference: the mean embedding of its reference stills.

    Stored as ``results/reference/<identity>.json`` (identity, stills, embedding).
    """

    identity: str
    stills: list[str]
    embedding: np.ndarray

    def distances(self, faces: pd.DataFrame) -> pd.Series:
        """Embedding distance of each face (``embedding`` column) to the reference;
        inf for a face without an embedding."""
        return faces["embedding"].map(
            lambda e: np.inf if e is None else float(np.linalg.norm(np.asarray(e) - self.embedding)))

    def save(self, path: str | os.PathLike) -> None:
        write_json(path, {"identity": self.identity, "stills": self.stills,
                          "embedding": self.embedding.tolist()})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Reference:
        data = read_json(path)
        return cls(data["identity"], data["stills"], np.asarray(data["embedding"], np.float32))


def select_faces(faces: pd.DataFrame, references: Sequence[Reference] = (), threshold: float = 0.6,
                 keep_all: bool = False) -> pd.Series:
    """Boolean ``keep`` per row of ``faces`` (columns frame, x0..y1, embedding).

    ``keep_all`` keeps every face. With ``references``, a face is kept when its
    embedding lies within ``threshold`` (Euclidean) of one of them; faces
    without an embedding are dropped. Without references, the largest face of
    each frame is kept.
    """
    if keep_all or faces.empty:
        return pd.Series(True, index=faces.index)
    if references:
        return pd.concat([ref.distances(faces) for ref in references], axis=1).min(axis=1) < threshold
    area = (faces["x1"] - faces["x0"]) * (faces["y1"] - faces["y0"])
    return pd.Series(faces.index.isin(area.groupby(faces["frame"]).idxmax()), index=faces.index)

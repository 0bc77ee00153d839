"""Identity embeddings (dlib 128-d) and target-face selection."""

from __future__ import annotations

import dlib
import face_recognition_models
import numpy as np
import pandas as pd


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


def select_faces(
    faces: pd.DataFrame, reference: np.ndarray | None, threshold: float = 0.6, keep_all: bool = False
) -> pd.Series:
    """Boolean ``keep`` per row of ``faces`` (columns frame, x0..y1, embedding).

    ``keep_all`` keeps every face. With a ``reference`` embedding, a face is
    kept when its embedding lies within ``threshold`` (Euclidean) of it; faces
    without an embedding are dropped. Without a reference, the largest face of
    each frame is kept.
    """
    if keep_all or faces.empty:
        return pd.Series(True, index=faces.index)
    if reference is not None:
        dist = faces["embedding"].map(
            lambda e: np.inf if e is None else float(np.linalg.norm(np.asarray(e) - reference))
        )
        return dist < threshold
    area = (faces["x1"] - faces["x0"]) * (faces["y1"] - faces["y0"])
    return pd.Series(faces.index.isin(area.groupby(faces["frame"]).idxmax()), index=faces.index)

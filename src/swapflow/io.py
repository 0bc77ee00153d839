"""Reading and writing files: atomic writes (a killed job never leaves a file
that looks complete), JSON, Parquet and plain YAML; and InputError, the error
for what a user gave."""

from __future__ import annotations

import json
import os
import pickle
import re
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

if TYPE_CHECKING:
    import pandas as pd


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary sibling path; rename it onto ``path`` only on success.

    Works for files and folders. On error the temporary is removed and any
    existing ``path`` is left untouched.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f".{final.name}.tmp{os.getpid()}")
    remove_stale_temporaries(final)
    try:
        yield tmp
        _remove(final)
        os.replace(tmp, final)
    except BaseException:
        _remove(tmp)
        raise


@contextmanager
def scratch_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A scratch folder beside ``path`` for the work of writing it, not in the
    shared temporary folder: removed when done, and one that a killed writer
    left is removed by the next write of ``path`` (it is named like its
    temporaries)."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(final)
    work = final.with_name(f".{final.name}.tmp{os.getpid()}.work")
    work.mkdir()
    try:
        yield work
    finally:
        _remove(work)


def remove_stale_temporaries(final: Path) -> None:
    """Remove what killed writers of ``final`` left (``.<name>.tmp<pid>...`` of a
    process that is gone, or of this one)."""
    pattern = re.compile(rf"\.{re.escape(final.name)}\.tmp(\d+)")
    for sibling in final.parent.iterdir():
        m = pattern.match(sibling.name)
        if m and not _alive(int(m.group(1))):
            _remove(sibling)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: str | os.PathLike, data: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def write_parquet(path: str | os.PathLike, table: "pd.DataFrame") -> None:
    with atomic_path(path) as tmp:
        table.to_parquet(tmp, index=False)


def project_path(path: str | os.PathLike) -> str:
    """``path`` relative to the project (the working folder) where it lies in it,
    so that a record names no machine's layout; else as given."""
    resolved, here = Path(path).resolve(), Path.cwd().resolve()
    return str(resolved.relative_to(here) if resolved.is_relative_to(here) else path)


class InputError(ValueError):
    """A problem with what the user gave (a file, a setting): the message names it
    and says what is wrong; a rule that stops on one prints just that message."""


def dump_yaml(data: Any) -> str:
    """YAML of plain data without anchors: a value used twice is written out twice."""
    import yaml

    class _Plain(yaml.SafeDumper):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return yaml.dump(data, Dumper=_Plain, sort_keys=False, allow_unicode=True)


def load_yaml(path: str | os.PathLike) -> Any:
    import yaml

    return yaml.safe_load(Path(path).read_text())


def save_tensors(obj: dict, path: str | os.PathLike, shown: str | os.PathLike | None = None) -> None:
    """``torch.save`` of ``obj`` to ``path`` atomically, serialised in memory first
    so that a failed write raises the system's reason (torch's own writer reports
    a full disk as "unexpected pos"): OSError naming ``shown`` (default ``path``;
    the final path where ``path`` lies in a folder still being written); the
    previous file, if any, is kept."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_path(path) as tmp:
        try:
            tmp.write_bytes(buffer.getbuffer())
        except OSError as err:
            raise OSError(err.errno, f"could not write {shown or path}: {err.strerror} "
                                     f"({len(buffer.getbuffer()) / 2 ** 20:.0f} MiB); the previous one, "
                                     "if any, is kept") from err


def check_regular(path: str | os.PathLike) -> None:
    """InputError unless ``path`` is a regular file (followed through links): a
    FIFO, device or socket would be waited on or read for ever."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: file does not exist") from None
    except OSError as err:
        raise InputError(f"{path}: cannot be read: {err.strerror}") from None
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file (a FIFO, device or socket is not read)")


def load_tensors(path: str | os.PathLike, device: Any, what: str, remedy: str) -> dict:
    """``torch.load`` with ``weights_only``: tensors and plain values, never code.
    A file that holds anything else, or is damaged, raises InputError in one line
    naming ``path`` as not a ``what`` swapflow can read safely, with ``remedy``."""
    import torch

    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 (any file: one line naming it)
        raise InputError(f"{path} is not a {what} swapflow can read safely ({_unsafe_reason(err)}); "
                         f"{remedy}") from None


def _unsafe_reason(err: Exception) -> str:
    """Why torch.load(weights_only) refused a file, in swapflow's words: torch's
    own text advises loading it without weights_only, which would run its code."""
    text = str(err).strip()
    unsupported = re.search(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) (\S+)", text)
    if unsupported:
        return f"it holds {unsupported.group(1)}, not only tensors and plain values"
    if "TorchScript" in text:
        return "it is a TorchScript archive, which carries code"
    if "weights_only" in text or isinstance(err, pickle.UnpicklingError) or not text:
        return "it is damaged or holds more than tensors and plain values"
    return f"{type(err).__name__}: {text.splitlines()[0][:160]}"

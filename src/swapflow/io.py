"""Atomic file writes: a killed job never leaves a file that looks complete."""

from __future__ import annotations

import json
import os
import re
import shutil
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


class InputError(ValueError):
    """A problem with what the user gave (a file, a setting): the message names it
    and says what is wrong; a rule that stops on one prints just that message."""


# the logger of a long job's progress lines (training's iteration, loss, speed
# and ETA): they go to the log and, in a local run, to the terminal as well
PROGRESS = "swapflow.progress"


def log_to(path: str | os.PathLike) -> None:
    """Send logging and stderr (tqdm's bars, native libraries' messages) to ``path``.

    Lines of the PROGRESS logger also reach the terminal, after the log's name
    without ``logs/`` (``train/<model>: it 500/4000 ...``), except in a SLURM job
    writing to a file (a batch job's output beside the log; an interactive
    ``salloc`` shell is a terminal and gets them). An InputError that ends the script
    is written as one line, to the log and to the terminal, without a traceback.
    """
    import logging
    import sys

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "a", buffering=1)
    terminal = os.fdopen(os.dup(2), "w", buffering=1)
    os.dup2(stream.fileno(), 2)
    sys.stderr = stream
    logging.basicConfig(stream=stream, level=logging.INFO, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if "SLURM_JOB_ID" not in os.environ or terminal.isatty():
        echo = logging.StreamHandler(terminal)
        job = Path(path).with_suffix("").as_posix().removeprefix("logs/")
        echo.setFormatter(logging.Formatter(f"{job}: %(message)s"))
        logging.getLogger(PROGRESS).addHandler(echo)

    def one_line(kind, error, trace):
        if not issubclass(kind, InputError):
            return sys.__excepthook__(kind, error, trace)
        for out in (stream, terminal):
            print(f"swapflow: error: {error}", file=out, flush=True)
        os._exit(1)

    sys.excepthook = one_line


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

"""Where a job's messages go: logging and stderr to the job's log, progress
lines to the terminal too, and a user's error as one line."""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path

from swapflow.io import InputError

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


def hms(seconds: float) -> str:
    """``h:mm:ss`` for an ETA; ``?`` when it is not known."""
    if not math.isfinite(seconds):
        return "?"
    minutes, sec = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{sec:02d}"

"""The demo workflow on a real (single-node) SLURM cluster, run as a user runs it:
`snakemake --profile slurm` after the README's one set-up step (profiles/slurm
copied into the user's Snakemake config folder; here a temporary XDG_CONFIG_HOME).

Needs the test cluster of tests/cluster/slurm.sh (`bash tests/cluster/slurm.sh
start`, as root). Without a reachable cluster the tests are skipped, unless
SWAPFLOW_REQUIRE_SLURM=1 (set by .ci/run): then they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
import time
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from swapflow.io import read_json
from swapflow.video.merge import SYNTHETIC_COMMENT
from swapflow.video.probe import Probe
from tests.conftest import REPO, SNAKEFILE, SNAKEMAKE, write_config
from tests.videos import describe

pytestmark = pytest.mark.slurm

# the README's one set-up step for `snakemake --profile slurm`, run as written
INSTALL_PROFILE = ('mkdir -p "${XDG_CONFIG_HOME:-$HOME/.config}/snakemake" '
                   '&& cp -r profiles/slurm "${XDG_CONFIG_HOME:-$HOME/.config}/snakemake/"')
# a whole profile run must not hang the test session
RUN_TIMEOUT_S = 600
# The plugin's first status check comes slurm-init-seconds-before-status-checks
# after a submission (profile: 20 s) and every check without a finished job
# adds 10 s; a shorter start keeps the short test jobs from waiting on polls.
FAST_POLL = ("--slurm-init-seconds-before-status-checks", "5")
EXTRACTION = ("results/frames", "results/probe", "results/detect", "results/align",
              "results/mask", "results/faceset")

SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+) \(log: (\S+)\)\.")
ARRAY = re.compile(r"Submitted array job with Snakemake IDs ([\d,]+) and SLURM job ID (\d+)\. "
                   r"The individual task IDs are (\d+)-(\d+)\.")
FINISHED_JOB = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$", re.M)
SBATCH = re.compile(r"^sbatch call: (sbatch .*?)(?: --wrap=| /dev/stdin)", re.M)
LOG_RULE = re.compile(r"/slurm_logs/rule_([^/\s]+)/")
FINISHED = re.compile(r"^Finished jobid: \d+ \(Rule: (\w+)\)$", re.M)
LOCAL = re.compile(r"^localrule (\w+):$", re.M)


# ------------------------------------------------------------------ cluster --
def _unavailable(reason: str):
    if os.environ.get("SWAPFLOW_REQUIRE_SLURM") == "1":
        pytest.fail(f"SLURM required (SWAPFLOW_REQUIRE_SLURM=1) but {reason}", pytrace=False)
    pytest.skip(f"{reason} (start it with: bash tests/cluster/slurm.sh start)")


@pytest.fixture(scope="module")
def slurm() -> str:
    """The node's state; skips (or fails with SWAPFLOW_REQUIRE_SLURM=1) without a usable cluster."""
    for tool in ("sinfo", "sbatch", "squeue"):
        if shutil.which(tool) is None:
            _unavailable(f"`{tool}` is not installed")
    try:
        res = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], capture_output=True, text=True,
                             timeout=20)
    except subprocess.TimeoutExpired:
        _unavailable("`sinfo` did not answer within 20 s (slurmctld down?)")
    if res.returncode != 0:
        _unavailable(f"`sinfo` failed: {(res.stderr or res.stdout).strip()}")
    states = res.stdout.split()
    if not any(s.startswith(("idle", "mix")) for s in states):
        _unavailable(f"no idle SLURM node (node states: {states or 'none'})")
    return states[0]


@pytest.fixture(scope="module")
def config_home(tmp_path_factory) -> Path:
    """An XDG_CONFIG_HOME of its own, with the site profile installed by the README's step."""
    home = tmp_path_factory.mktemp("config-home")
    subprocess.run(["bash", "-c", INSTALL_PROFILE], cwd=REPO, check=True,
                   env=os.environ | {"XDG_CONFIG_HOME": str(home)})
    assert (home / "snakemake" / "slurm" / "config.yaml").is_file()
    return home


def run_profile(workdir: Path, config_home: Path, *args: str) -> tuple[str, float]:
    """Run `snakemake --profile slurm` in ``workdir`` with the profile installed in
    ``config_home``; returns snakemake's output and the wall time."""
    cmd = [SNAKEMAKE, "-s", str(SNAKEFILE), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--profile", "slurm",
           "--verbose", *FAST_POLL, *args]
    env = os.environ | {"PYTHONUNBUFFERED": "1", "XDG_CONFIG_HOME": str(config_home)}
    t0 = time.monotonic()
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             cwd=workdir, env=env, timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        out = err.stdout.decode() if isinstance(err.stdout, bytes) else (err.stdout or "")
        ids = [m.group(2) for m in SUBMITTED.finditer(out)]
        if ids:
            subprocess.run(["scancel", *ids], capture_output=True, timeout=20)
        raise AssertionError(f"snakemake did not finish in {RUN_TIMEOUT_S} s:\n{_tail(out)}")
    (workdir / f"snakemake.{len(list(workdir.glob('snakemake.*.out')))}.out").write_text(res.stdout)
    if res.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{_tail(res.stdout)}")
    return res.stdout, time.monotonic() - t0


def _tail(out: str, lines: int = 150) -> str:
    # drop the huge argument dumps of --verbose
    keep = [ln[:400] for ln in out.splitlines() if not ln.startswith("General args")]
    return "\n".join(keep[-lines:])


def submissions(out: str) -> list[tuple[str, str, Path]]:
    """(rule, SLURM job id, SLURM log) of every job submitted on its own, in order."""
    subs = []
    for m in SUBMITTED.finditer(out):
        rule = LOG_RULE.search(m.group(3))
        assert rule, f"no rule in the SLURM log path {m.group(3)}"
        subs.append((rule.group(1), m.group(2), Path(m.group(3))))
    return subs


def arrays(out: str, workdir: Path) -> list[tuple[str, str, list[Path]]]:
    """(rule, SLURM job id, the SLURM log of each task) of every array job."""
    rules = {jobid: rule for jobid, rule in FINISHED_JOB.findall(out)}
    found = []
    for m in ARRAY.finditer(out):
        (rule,) = {rules[i] for i in m.group(1).split(",")}
        logs = [workdir / ".snakemake/slurm_logs" / f"rule_{rule}" / f"{m.group(2)}_{task}.log"
                for task in range(int(m.group(3)), int(m.group(4)) + 1)]
        found.append((rule, m.group(2), logs))
    return found


def sbatch_calls(out: str) -> dict[str, list[list[str]]]:
    """rule -> the sbatch options (up to the wrapped command) of each of its submissions."""
    calls: dict[str, list[list[str]]] = {}
    for m in SBATCH.finditer(out):
        rule = LOG_RULE.search(m.group(1))
        assert rule, f"no rule in the sbatch call {m.group(1)}"
        calls.setdefault(rule.group(1), []).append(m.group(1).split())
    return calls


def option(opts: list[str], name: str) -> str | None:
    """Value of an sbatch option given as `name value` or `name=value`."""
    for i, tok in enumerate(opts):
        if tok == name and i + 1 < len(opts):
            return opts[i + 1]
        if tok.startswith(name + "="):
            return tok.split("=", 1)[1]
    return None


def mtimes(workdir: Path, roots=EXTRACTION) -> dict[str, int]:
    stamps = {}
    for root in roots:
        for path in [workdir / root, *sorted((workdir / root).rglob("*"))]:
            stamps[str(path.relative_to(workdir))] = path.stat().st_mtime_ns
    return stamps


# ------------------------------------------------------------------ the run --
def cluster_config(demo_dir: Path, **train) -> dict:
    return {
        "videos": {"woman": str(demo_dir / "WolfgangLanger_Pexels.mp4"),
                   "man": str(demo_dir / "single_face.mp4")},
        "identities": {"woman": {"videos": ["woman"]}, "man": {"videos": ["man"]}},
        "swaps": [{"name": "w2m", "face": "woman", "target": "man", "videos": ["man"]}],
        # two training processes (DistributedDataParallel, gloo: the GPUs are fake)
        "train": {"preset": "lite", "iterations": 40, "gpus": 2, "overrides": ["preview_every=10"],
                  **train},
        "evaluate": {"swap_faces": 8, "reference_faces": 8, "holdout_faces": 8},
        "merge": {"preset": "ultrafast"},
        # shards: the woman's detection in 3 jobs, the man's convert in 2
        "extract": {"shard_size": 160},
        "convert": {"shard_size": 36},
    }


@pytest.fixture(scope="module")
def cluster_run(slurm, demo_dir, config_home, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("slurm")
    write_config(workdir, cluster_config(demo_dir))
    out, wall = run_profile(workdir, config_home)
    print(f"\nwhole demo on SLURM: {wall:.0f} s")
    return workdir, out


def test_every_job_ran_as_a_slurm_job(cluster_run):
    workdir, out = cluster_run
    # the installed site profile, and the workflow profile next to the Snakefile
    assert (f"Using profiles slurm and workflow specific profile {REPO / 'workflow/profiles/default'}"
            in out)
    local = sorted(LOCAL.findall(out))
    remote = sorted(FINISHED.findall(out))
    for rule in local:
        remote.remove(rule)
    assert local == ["all", "config_used", "models", "summary"], \
        "only the target rule and the small local rules may run on the submitting host"
    subs, groups = submissions(out), arrays(out, workdir)
    tasks = [(rule, jobid, log) for rule, jobid, logs in groups for log in logs]
    assert sorted(rule for rule, _, _ in subs + tasks) == remote
    assert {"split_frames", "detect", "align", "mask", "faceset", "train", "convert", "merge",
            "evaluate", "provenance"} <= set(remote)
    for rule, jobid, log in subs + tasks:
        assert log.is_file(), f"no SLURM log of {rule} (job {jobid})"
        assert log.parent.parent.name == f"rule_{rule}" or log.parent.name == f"rule_{rule}"
        assert log.is_relative_to(workdir / ".snakemake" / "slurm_logs")
    assert "DUE TO TIME LIMIT" not in "".join(log.read_text() for _, _, log in subs + tasks)


def test_shards_go_to_slurm_as_array_jobs(cluster_run):
    """The woman's 3 detection shards are ready together: one sbatch --array, not 3
    submissions (with the man's one shard when both videos are split by then); the
    man's 2 convert shards are one array job too."""
    workdir, out = cluster_run
    sizes = {rule: sorted(len(logs) for r, _, logs in arrays(out, workdir) if r == rule)
             for rule in ("detect", "convert")}
    single = [rule for rule, _, _ in submissions(out) if rule in sizes]
    assert sizes["detect"] in ([3], [4]) and single.count("detect") == 4 - sum(sizes["detect"])
    assert sizes["convert"] == [2] and "convert" not in single


def test_train_asks_for_the_gpu_partition_and_two_gpus_of_one_node(cluster_run):
    workdir, out = cluster_run
    calls = sbatch_calls(out)
    assert len(calls["train"]) == 1
    train = calls["train"][0]
    assert option(train, "-p") == "gpu"
    assert "--gpus=2" in train and "--nodes=1" in train
    assert option(train, "--cpus-per-task") == "2"
    assert not any(o.startswith("--ntasks") for o in train), "one task starts both processes"
    others = {rule: c for rule, c in calls.items() if rule != "train"}
    assert others
    for rule, subs in others.items():
        for opts in subs:
            assert option(opts, "-p") == "cpu", (rule, opts)
            assert not any(o.startswith(("--gpus", "--gres")) for o in opts), (rule, opts)


def test_train_job_trains_in_two_processes(cluster_run):
    """torchrun in the job started two processes; both trained, their weights
    stayed identical, process 0 wrote the model."""
    workdir, _ = cluster_run
    (log,) = (workdir / "logs/train").iterdir()
    text = log.read_text()
    for rank, faces in ((0, "0..7"), (1, "8..15")):
        assert re.search(rf"\[process {rank} of 2\] training lite .* iterations 1..40; process {rank} "
                         rf"of 2: faces {faces} of each batch of 16", text), text[-3000:]
        assert f"[process {rank} of 2] weights identical in all 2 processes at iteration 40" in text
    (model,) = (workdir / "results/model").iterdir()
    assert read_json(model / "manifest.json")["processes"] == 2
    assert list(pd.read_csv(model / "losses.csv")["iteration"]) == list(range(1, 41))


def test_result_is_the_swapped_video_with_audio_and_tags(cluster_run):
    workdir, _ = cluster_run
    probe = Probe.load(workdir / "results/probe/man.json")
    out = describe(workdir / "results/swap/w2m/man.mp4")
    assert out["frames"] == probe.frames
    assert abs(out["duration"] - probe.duration) <= float(1 / Fraction(probe.fps)) + 0.02
    assert out["audio"] == probe.audio == "mp3"  # audio copied from the source
    assert out["tags"]["comment"] == SYNTHETIC_COMMENT
    assert out["tags"]["synthetic"] == "true"
    (model,) = pd.read_csv(workdir / "results/models.tsv", sep="\t")["model"]
    assert len(pd.read_csv(workdir / f"results/model/{model}/losses.csv")) == 40
    summary = pd.read_csv(workdir / "results/evaluate/summary.tsv", sep="\t")
    assert list(summary["video"]) == ["man"]


# --------------------------------------------------------------- time limit --
# train.runtime is 1 minute, and attempt N gets N minutes (the rule's runtime
# grows with each retry). The first attempt must be killed by its limit
# whatever the machine's speed: once its log shows training under way, the
# test stops (SIGSTOP) the two training processes, so nothing more is trained
# until SLURM's limit arrives (SLURM sends SIGCONT before SIGTERM, so they wake
# to the signal, write one checkpoint and exit). ITERATIONS is a few seconds of
# training here, far inside attempt 2's two minutes: a slow machine that needs
# a third attempt still passes (the test checks what each kill guarantees).
ITERATIONS = 120
PROGRESS_LINE = re.compile(r"it ([1-9]\d*)/\d+ ")


def freeze_training(train_log: Path, model: str, frozen: list[int], done: threading.Event) -> None:
    """SIGSTOP the training processes of ``model`` once ``train_log`` shows an
    iteration done, adding their ids to ``frozen``; gives up when ``done`` is set."""
    while not done.wait(0.2):
        if train_log.is_file() and PROGRESS_LINE.search(train_log.read_text()):
            frozen += [pid for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
                       if _is_worker(pid, model)]
            for pid in frozen:
                os.kill(pid, signal.SIGSTOP)
            return


def _is_worker(pid: int, model: str) -> bool:
    """A training process torchrun started (LOCAL_RANK in its environment) for ``model``."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:  # gone, or not ours to read
        return False
    return b"swapflow.train.cli" in cmdline and f"/{model}".encode() in cmdline \
        and b"\0LOCAL_RANK=" in b"\0" + environ


def test_train_killed_at_its_time_limit_resumes_on_the_retry(cluster_run, demo_dir, config_home):
    workdir, _ = cluster_run
    shutil.rmtree(workdir / "results/checkpoints", ignore_errors=True)
    before = mtimes(workdir)
    trained = set((workdir / "results/model").iterdir())
    iterations = ITERATIONS
    write_config(workdir, cluster_config(demo_dir, iterations=iterations, runtime=1,
                                         overrides=["preview_every=100000", "log_every_s=1"]))

    # the new training config names a new model: train it and nothing after it
    planned, _ = run_profile(workdir, config_home, "-n")
    (name,) = set(re.findall(r"results/model/([\w.-]+)", planned)) - {p.name for p in trained}
    train_log = workdir / "logs/train" / f"{name}.log"
    frozen: list[int] = []
    done = threading.Event()
    watcher = threading.Thread(target=freeze_training, args=(train_log, name, frozen, done))
    watcher.start()
    try:
        out, wall = run_profile(workdir, config_home, "--retries", "3", f"results/model/{name}")
    finally:
        done.set()
        watcher.join()
    assert len(frozen) == 2, "the first attempt's two training processes were stopped"
    model = workdir / "results/model" / name
    subs = submissions(out)
    assert {rule for rule, _, _ in subs} == {"train"}, "only train may run"
    assert 2 <= len(subs) <= 4, "one time-limit kill at least, finished within the retries"
    limits = [option(o, "-t") for o in sbatch_calls(out)["train"]]
    assert limits == [str(n) for n in range(1, len(subs) + 1)], "each retry gets a longer limit"
    assert all(option(o, "-p") == "gpu" and "--gpus=2" in o for o in sbatch_calls(out)["train"])
    graceful = []
    for _, jobid, log in subs[:-1]:
        text = log.read_text()
        assert "DUE TO TIME LIMIT" in text, text[-2000:]
        assert re.search(rf"SLURM-job '{jobid}' failed, SLURM status is: 'TIMEOUT'", out)
        # both processes caught SIGTERM, stopped at the same step, process 0 wrote
        # one checkpoint and the job exited 128+15 (not SIGKILLed)
        graceful.append("returned non-zero exit status 143" in text)
    assert "DUE TO TIME LIMIT" not in subs[-1][2].read_text()

    # Snakemake deletes a job's log before each attempt: it holds the last one
    log = train_log.read_text()
    resumed = [int(i) for i in re.findall(r"\[process [01] of 2\] resumed from \S+ at iteration (\d+)",
                                          log)]
    assert len(resumed) == 2 and resumed[0] == resumed[1], log[-3000:]
    assert 0 < resumed[0] <= iterations
    # Every kill during training is graceful. The first finds it stopped mid-way;
    # a later one (a machine slow enough to need a third attempt) may race its
    # end: the kill finds it writing or having written the model folder, which
    # Snakemake removes as incomplete; then the last attempt resumes at the last
    # iteration and only writes the folder.
    assert graceful[0], subs[0][2].read_text()[-2000:]
    assert all(graceful[:-1]), "only the last killed attempt may have finished its training"
    assert graceful[-1] or resumed[0] == iterations, subs[-2][2].read_text()[-2000:]
    assert f"iterations {resumed[0] + 1}..{iterations}" in log
    losses = pd.read_csv(model / "losses.csv")
    assert list(losses["iteration"]) == list(range(1, iterations + 1))
    assert mtimes(workdir) == before, "extraction outputs were recomputed"
    print(f"\ntime-limit run: {wall:.0f} s, {iterations} iterations, {len(subs)} attempts; "
          f"last attempt resumed at {resumed[0]}, finished at {len(losses)}")

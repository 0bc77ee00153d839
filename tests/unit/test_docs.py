"""The user's documents: README.md is at most 250 lines; it, docs/, config/README.md,
benchmarks/*.md and CHANGELOG.md link only to files and headings that exist; and
every command the README shows is run by CI or a test as written (its snakemake
commands are dry-run in a user's project by tests/workflow/test_readme.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

DOCUMENTS = sorted([REPO / "README.md", REPO / "CHANGELOG.md", REPO / "config/README.md",
                    *(REPO / "docs").glob("*.md"), *(REPO / "benchmarks").glob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


def prose(text: str) -> str:
    """The text outside fenced code blocks."""
    return FENCE.sub("", text)


def anchors(path: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation
    dropped, spaces as hyphens."""
    headings = re.findall(r"^#+ (.+)$", prose(path.read_text()), re.M)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


def readme_commands() -> list[str]:
    """Each command of the README's sh blocks (continuations joined, comments and
    the parts joined by && apart)."""
    commands = []
    for lang, body in FENCE.findall((REPO / "README.md").read_text()):
        if lang != "sh":
            continue
        for line in body.replace("\\\n", " ").splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            commands += [part.strip() for part in line.split(" && ") if part.strip()]
    return commands


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(path):
    """A link to a file names one that exists; a link to a heading, one the file has."""
    broken = []
    for target in LINK.findall(prose(path.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists() or (anchor and anchor not in anchors(dest)):
            broken.append(target)
    assert not broken, f"{path.relative_to(REPO)}: links to nothing: {broken}"


def test_readme_is_short():
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= 250, f"README.md has {lines} lines: topics belong in docs/"


def test_readme_commands_are_the_ones_run():
    """What CI and the cluster test run is the README's install, test and profile
    set-up commands, letter for letter; the rest are snakemake commands."""
    ci = (REPO / ".ci/run").read_text()
    slurm = (REPO / "tests/cluster/test_slurm.py").read_text()
    (profile_install,) = re.findall(r"^INSTALL_PROFILE = \((.*?)\)$", slurm, re.M | re.S)
    profile_install = "".join(re.findall(r"'([^']*)'", profile_install))
    commands = readme_commands()
    assert commands[:2] == ["python3 -m venv .venv", ".venv/bin/pip install -e '.[test]'"]
    assert "python3 -m venv .venv && .venv/bin/pip install -e '.[test]'" in ci
    assert re.search(r"^\.venv/bin/pytest$", ci, re.M)
    others = [c for c in commands if not c.startswith(".venv/bin/snakemake ")]
    for command in others:
        assert command in ci or command in profile_install.split(" && "), \
            f"the README shows {command!r}, which neither .ci/run nor a test runs"
    assert len(others) < len(commands)

"""config/README.md's tables of settings, made from their declarations (``python -m swapflow.config config/README.md``)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from swapflow.schema import ConfigError, config_fields, plain, section_classes

TABLE = re.compile(r"(<!-- settings table: (?P<section>[a-z_.-]+)[^\n]*-->\n)(.*?)(<!-- end of settings table -->)",
                   re.DOTALL)


def _default_text(value: Any) -> str:
    """A default as the config writes it: YAML flow style, a string that YAML
    would read as something else in double quotes."""
    value = plain(value)
    if isinstance(value, str) and yaml.safe_load(value) != value:
        return f'"{value}"'
    return yaml.safe_dump(value, default_flow_style=True, width=1000).removesuffix("\n...\n").strip()


def table(section: str) -> str:
    """The Markdown table of a section's keys: key, default, meaning."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |"]
    rows += [f"| `{f.name}` | `{_default_text(f.default)}` | {f.metadata['doc']} |"
             for cls in section_classes(section) for f in config_fields(cls)]
    return "\n".join(rows) + "\n"


def readme_tables(text: str) -> str:
    """``text`` with each table between ``<!-- settings table: <section> ... -->``
    and ``<!-- end of settings table -->`` made again from the fields."""
    def fill(match: re.Match) -> str:
        if not section_classes(match["section"]):
            raise ConfigError(f"settings table: no settings of section {match['section']!r}")
        return match[1] + table(match["section"]) + match[4]
    return TABLE.sub(fill, text)

"""How a setting is declared and checked: ``setting`` and ``settings_section``, the JSON schema made from the declarations, one line per problem.

Each stage's settings (swapflow.settings) are a dataclass whose ``section``
names the config section its keys live in. A field is declared with
``setting``: its default, its meaning (config/README.md's tables and the
schema's descriptions are made from it) and the JSON-schema keywords that say
what it takes. From these fields come

- ``section_schemas``: the schema of each section, merged into the workflow's
  schema (``with_sections``), which checks a config and fills in its defaults;
- ``from_mapping``: a dataclass from a plain mapping, refusing unknown keys and
  values the schema refuses, with the workflow's messages (the library checks
  what it is given without the workflow);
- ``section_values``: the keys one dataclass reads from a config section, with a
  swap's own keys on top (the workflow's params).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import Field, dataclass, field, fields
from functools import cache
from typing import Any, TypeVar

import jsonschema

from swapflow.io import InputError

T = TypeVar("T")


class ConfigError(InputError):
    """Settings or a config that cannot run; the message names the file or key."""


# A config holds a few hundred values; YAML aliases can make a 650-byte file
# stand for billions, which validation and its messages would walk and print.
MAX_CONFIG_VALUES = 100_000


def check_size(config: Any, what: str = "the config") -> None:
    """Raise ConfigError when ``config`` (``what``, in the message) stands for
    more than MAX_CONFIG_VALUES values once its YAML aliases are expanded
    (counted without expanding: a container met again is counted from memory)."""
    counted: dict[int, int] = {}

    def size(node: Any) -> int:
        if not isinstance(node, (Mapping, list, tuple)):
            return 1
        if id(node) not in counted:
            children = node.values() if isinstance(node, Mapping) else node
            counted[id(node)] = 1 + sum(size(child) for child in children)
        return counted[id(node)]

    total = size(config)
    if total > MAX_CONFIG_VALUES:
        raise ConfigError(f"{what} stands for {total:.3g} values once its YAML aliases (*name) "
                          f"are expanded, more than {MAX_CONFIG_VALUES}: write the values out")


def cut(text: str, limit: int = 200) -> str:
    """``text`` for a message: at most ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


# ---- declaring a setting --------------------------------------------------------

SETTINGS: list[type] = []  # every settings dataclass, in the order of the config's sections


def setting(default: Any, doc: str, *, stills: bool = True, swap_adds: bool = False, **schema: Any) -> Any:
    """A settings field: its ``default``, its meaning ``doc`` (a row of
    config/README.md, the schema's description) and the JSON-schema keywords
    that check a value (``enum``, ``minimum``, ``pattern``, ...; the type comes
    from the field's annotation, an ``enum`` of a list field applies to its items).
    ``stills``: an extract key that also applies to finding the face in a
    reference still (rule ``reference``). ``swap_adds``: a list that a swap's own
    value is added to (after it) instead of replacing it."""
    return field(default=default, metadata={"doc": doc, "schema": schema, "stills": stills,
                                            "swap_adds": swap_adds})


def settings_section(cls: type[T]) -> type[T]:
    """Register a settings dataclass (its fields are keys of ``cls.section``) that
    checks its values as the workflow's schema does, however it is made (a list
    becomes a tuple)."""
    cls.__post_init__ = _check_values
    cls = dataclass(cls)
    SETTINGS.append(cls)
    return cls


def _check_values(self: Any) -> None:
    for f in config_fields(type(self)):
        if isinstance(getattr(self, f.name), list):
            setattr(self, f.name, tuple(getattr(self, f.name)))
    values = {f.name: plain(getattr(self, f.name)) for f in config_fields(type(self))}
    problems = [problem(err, [self.section, *err.absolute_path])
                for err in _validator(type(self)).iter_errors(values)]
    if problems:
        raise ConfigError("\n".join(problems))


# ---- the schema made from the fields ----------------------------------------------

_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}


def plain(value: Any) -> Any:
    """``value`` as JSON and YAML hold it: tuples as lists."""
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def _json_type(hint: Any) -> dict[str, Any]:
    """The JSON-schema type of a field annotation: a scalar, an optional one, a tuple of one."""
    if typing.get_origin(hint) is tuple:
        return {"type": "array", "items": _json_type(typing.get_args(hint)[0])}
    if isinstance(hint, types.UnionType):
        return {"type": [_JSON_TYPES[arg] for arg in typing.get_args(hint)]}
    return {"type": _JSON_TYPES[hint]}


def _property(f: Field, hint: Any) -> dict[str, Any]:
    """The JSON-schema property of one field: type, its checks, default, description."""
    checks = dict(f.metadata["schema"])
    prop = {} if "anyOf" in checks else _json_type(hint)
    if prop.get("type") == "array" and "enum" in checks:
        prop["items"] = prop["items"] | {"enum": checks.pop("enum")}
    return prop | checks | {"default": plain(f.default), "description": f.metadata["doc"]}


def config_fields(cls: type) -> list[Field]:
    """The fields of ``cls`` that are config keys: those declared with ``setting``
    (another field holds what the workflow passes, e.g. a plugin's options)."""
    return [f for f in fields(cls) if "doc" in f.metadata]


def properties(cls: type) -> dict[str, dict[str, Any]]:
    """The JSON-schema properties of the config fields of ``cls``, in their order."""
    hints = typing.get_type_hints(cls)
    return {f.name: _property(f, hints[f.name]) for f in config_fields(cls)}


def section_classes(section: str) -> list[type]:
    """The settings dataclasses whose fields are keys of ``section``."""
    return [cls for cls in SETTINGS if cls.section == section]


def section_schemas() -> dict[str, dict[str, Any]]:
    """{section: its JSON schema}: an object of exactly the keys its dataclasses
    declare, each with type, checks, default and description; missing, it is {}."""
    sections: dict[str, dict[str, Any]] = {}
    for cls in SETTINGS:
        schema = sections.setdefault(cls.section, {
            "type": "object", "default": {}, "additionalProperties": False,
            "description": f"see config/README.md, section {cls.section}", "properties": {}})
        schema["properties"] |= properties(cls)
    for name in sorted((n for n in sections if "." in n), key=lambda n: -n.count(".")):
        parent, _, key = name.rpartition(".")  # a plugin's: a key of its stage's section
        sections[parent]["properties"][key] = sections.pop(name)
    return sections


def with_sections(schema: Mapping[str, Any]) -> dict[str, Any]:
    """The workflow's schema (videos, identities, swaps, experiments) with the
    sections of the settings added to its properties."""
    return {**schema, "properties": {**schema["properties"], **section_schemas()}}


# ---- one line per problem -------------------------------------------------------------

def problem(err: jsonschema.ValidationError, where: Iterable[Any] | None = None) -> str:
    """``key.path: what is wrong (what is allowed)`` in one line."""
    where = ".".join(map(str, err.absolute_path if where is None else where)) or "config"
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    if err.validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        unknown = sorted(set(err.instance) - set(allowed))
        return (f"{where}: unknown key {cut(', '.join(map(repr, unknown)))}"
                + (f" (allowed: {', '.join(allowed)})" if allowed else ""))
    if err.validator == "enum":
        return f"{where}: {cut(repr(err.instance))} is not allowed (one of: {', '.join(map(str, err.validator_value))})"
    if err.validator == "pattern":
        return f"{where}: {cut(repr(err.instance))} does not match {err.validator_value}"
    return f"{where}: {cut(err.message)}"


# ---- from a mapping --------------------------------------------------------------------

@cache
def _validator(cls: type) -> jsonschema.Draft202012Validator:
    """Checks of the fields of ``cls`` declared with ``setting`` (a plain field has none)."""
    hints = typing.get_type_hints(cls)
    checks = {f.name: {k: v for k, v in _property(f, hints[f.name]).items() if k != "default"}
              for f in config_fields(cls)}
    return jsonschema.Draft202012Validator({"type": "object", "properties": checks})


def from_mapping(cls: type[T], values: Mapping[str, Any] | T | None) -> T:
    """``cls(**values)``: unknown keys raise ConfigError naming them and the known
    ones; a settings dataclass checks its values as the workflow's schema does,
    one line per problem (``section.key: ...``)."""
    if isinstance(values, cls):
        return values
    given = dict(values or {})
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ConfigError(f"{cls.section}: unknown setting {', '.join(map(repr, unknown))} "
                          f"(known here: {', '.join(known)})")
    return cls(**given)


def section_values(cls: type, section: Mapping[str, Any], own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keys of ``cls`` in a (validated) config section, in field order, with
    ``own`` (a swap's own keys) on top; a ``swap_adds`` list gets the swap's
    items after the section's."""
    own = own or {}
    return {f.name: [*section[f.name], *own.get(f.name, [])] if f.metadata["swap_adds"]
            else own.get(f.name, section[f.name]) for f in config_fields(cls)}

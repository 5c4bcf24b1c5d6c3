"""Ethnic-category groupings as data: which NHS code falls in which group.

Why data and not code: the 2021 census moved Chinese under Asian and some trusts use their own
groups, so a user must be able to replace a grouping without touching vbr. Built-in groupings
(``detailed``, ``broad``, ``wres``) are YAML files shipped in :mod:`vbr.fairness.groupings`
and read with :mod:`importlib.resources`; :func:`load_grouping_file` reads a user's YAML or CSV.

Any code a grouping does not place (``Z``, ``99``, blank, missing, a typo) goes to the explicit
:data:`UNKNOWN` bucket. Unknowns are counted and reported by the audit, never dropped or guessed.

File format (YAML)::

    id: broad2021
    title: Five broad groups (2021 census)
    groups:                      # group name -> NHS codes, in display order
      White: [A, B, C]
      Asian: [H, J, K, L, R]
      ...

or ``groups: each_code`` for one group per known code. CSV files have a header ``code,group``
(optionally ``label``); the grouping id is the file name without extension.
"""

from __future__ import annotations

import csv
import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import yaml

from vbr.errors import NotFound, ValidationFailed

UNKNOWN = "Unknown"
"""Name of the bucket holding every code a grouping does not place."""

BUILTIN = ("detailed", "broad", "wres")
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def normalise_code(code: str) -> str:
    """Codes compare after stripping spaces and upper-casing (``" a "`` is ``A``)."""
    return str(code).strip().upper()


@functools.lru_cache(maxsize=1)
def nhs_categories() -> tuple[dict[str, str], frozenset[str]]:
    """NHS ETHNIC CATEGORY codes -> names, and the codes meaning "not stated / not known"."""
    text = resources.files("vbr.fairness.groupings").joinpath("categories.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    names = {normalise_code(k): str(v) for k, v in data["codes"].items()}
    return names, frozenset(normalise_code(c) for c in data["unknown"])


@dataclass(frozen=True)
class Grouping:
    """A mapping from ethnic-category codes to groups, in display order.

    ``groups`` never contains :data:`UNKNOWN`; count tables append it as the last group.
    ``code_names`` names every code the grouping knows (for reports of unknown codes too).
    """

    id: str
    title: str
    groups: tuple[str, ...]
    code_to_group: Mapping[str, str]
    labels: Mapping[str, str] = field(default_factory=dict)
    code_names: Mapping[str, str] = field(default_factory=dict)
    source: str = "built in"

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValidationFailed(f"grouping id {self.id!r} must be lower-case letters, digits, '_', '-' or '.'",
                                   file=self.source, field="id")
        if UNKNOWN in self.groups:
            raise ValidationFailed(f"'{UNKNOWN}' is reserved for codes outside every group",
                                   file=self.source, field="groups")
        missing = set(self.code_to_group.values()) - set(self.groups)
        if missing:
            raise ValidationFailed(f"codes map to undeclared group(s) {sorted(missing)}", file=self.source)

    @property
    def all_groups(self) -> tuple[str, ...]:
        """Groups in display order followed by the unknown bucket."""
        return self.groups + (UNKNOWN,)

    def group_of(self, code: Any) -> str:
        """The group of one code; :data:`UNKNOWN` for anything not placed (including None)."""
        if code is None:
            return UNKNOWN
        return self.code_to_group.get(normalise_code(code), UNKNOWN)

    def index(self, codes: Iterable[str | None]) -> np.ndarray:
        """Group index (into :attr:`all_groups`) of each normalised code; unknown is the last."""
        pos = {g: i for i, g in enumerate(self.groups)}
        unk = len(self.groups)
        return np.array([pos.get(self.code_to_group.get(c, UNKNOWN), unk) if c is not None else unk
                         for c in codes], dtype=np.int64)

    def label(self, group: str) -> str:
        return self.labels.get(group, group)

    def describe(self) -> dict:
        return {"id": self.id, "title": self.title, "source": self.source,
                "groups": {g: sorted(c for c, gg in self.code_to_group.items() if gg == g) for g in self.groups}}


def _from_mapping(data: Any, *, source: str, default_id: str | None = None) -> Grouping:
    if not isinstance(data, dict):
        raise ValidationFailed("a grouping file must be a mapping with 'id' and 'groups'", file=source)
    names, _ = nhs_categories()
    gid = str(data.get("id") or default_id or "")
    title = str(data.get("title") or gid)
    spec = data.get("groups")
    code_to_group: dict[str, str] = {}
    labels: dict[str, str] = {}
    groups: list[str] = []
    if spec == "each_code":
        unknown = nhs_categories()[1]
        for code, name in names.items():
            if code in unknown:
                continue
            groups.append(code)
            code_to_group[code] = code
            labels[code] = name
    elif isinstance(spec, dict) and spec:
        for group, codes in spec.items():
            group = str(group).strip()
            if not group:
                raise ValidationFailed("a group name is blank", file=source, field="groups")
            if isinstance(codes, (str, int)):
                codes = [codes]
            if not isinstance(codes, list) or not codes:
                raise ValidationFailed(f"group {group!r} needs a list of codes", file=source, field="groups")
            groups.append(group)
            for c in codes:
                c = normalise_code(c)
                if c in code_to_group:
                    raise ValidationFailed(f"code {c!r} is in both {code_to_group[c]!r} and {group!r}",
                                           file=source, field="groups", hint="a code belongs to one group")
                code_to_group[c] = group
    else:
        raise ValidationFailed("'groups' must map group names to lists of codes, or be 'each_code'",
                               file=source, field="groups")
    extra_names = {normalise_code(k): str(v) for k, v in (data.get("names") or {}).items()}
    unexpected = set(data) - {"id", "title", "groups", "names"}
    if unexpected:
        raise ValidationFailed(f"unknown key(s) {sorted(unexpected)}", file=source,
                               hint="allowed: id, title, groups, names")
    return Grouping(id=gid, title=title, groups=tuple(groups), code_to_group=code_to_group,
                    labels=labels, code_names={**names, **extra_names}, source=source)


def load_grouping_file(path: str | Path) -> Grouping:
    """Read a user-defined grouping from YAML (``.yaml``/``.yml``) or CSV (``code,group[,label]``)."""
    path = Path(path)
    if not path.exists():
        raise NotFound(f"grouping file not found: {path}", file=str(path))
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"code", "group"} <= {f.strip().lower() for f in reader.fieldnames}:
                raise ValidationFailed("a grouping CSV needs the columns 'code' and 'group'", file=str(path), line=1)
            spec: dict[str, list[str]] = {}
            for lineno, row in enumerate(reader, start=2):
                row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
                if not row.get("code") or not row.get("group"):
                    raise ValidationFailed("blank code or group", file=str(path), line=lineno)
                spec.setdefault(row["group"], []).append(row["code"])
        return _from_mapping({"id": path.stem.lower(), "groups": spec}, source=str(path))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValidationFailed(f"not valid YAML: {exc}", file=str(path)) from exc
    return _from_mapping(data, source=str(path), default_id=path.stem.lower())


@functools.lru_cache(maxsize=None)
def builtin_grouping(grouping_id: str) -> Grouping:
    """One of the built-in groupings: ``detailed``, ``broad`` or ``wres``."""
    if grouping_id not in BUILTIN:
        raise NotFound(f"no built-in grouping {grouping_id!r}", hint=f"built in: {', '.join(BUILTIN)}")
    res = resources.files("vbr.fairness.groupings").joinpath(f"{grouping_id}.yaml")
    return _from_mapping(yaml.safe_load(res.read_text("utf-8")), source=f"vbr:{grouping_id}.yaml")


def builtin_groupings() -> list[Grouping]:
    return [builtin_grouping(g) for g in BUILTIN]


def resolve_grouping(grouping: "str | Path | Grouping") -> Grouping:
    """A :class:`Grouping` from an object, a registered id (plugins), or a file path."""
    if isinstance(grouping, Grouping):
        return grouping
    text = str(grouping)
    if isinstance(grouping, Path) or text.endswith((".yaml", ".yml", ".csv")):
        return load_grouping_file(text)
    try:
        from vbr.plugins import get_plugins

        registered = get_plugins().registry("groupings")
    except ImportError:  # pragma: no cover - a half-built plugin tree; built-ins still work
        registered = {}
    if text in registered:
        return registered[text]
    if text in BUILTIN:
        return builtin_grouping(text)
    raise NotFound(f"unknown grouping {text!r}",
                   hint=f"use one of {sorted(set(registered) | set(BUILTIN))} or a path to a YAML/CSV file")

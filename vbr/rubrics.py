"""Load and validate rubric files.

Built-in rubrics ship inside the wheel and are read with :mod:`importlib.resources`; users add
their own with ``--rubric-dir`` or ``VBR_RUBRIC_PATH`` (``os.pathsep``-separated), and plugins
register more through the ``vbr_register_rubrics`` hook. Validation errors name the file, the
YAML line and the field, because the people editing rubrics are assessors, not developers.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

import yaml
from pydantic import ValidationError

from vbr.errors import ValidationFailed, VbrError
from vbr.models import Rubric

RUBRIC_PATH_ENV = "VBR_RUBRIC_PATH"


def builtin_rubric_dir() -> Path:
    """Where the shipped rubric files are: inside the wheel, or the source tree when editable."""
    packaged = resources.files("vbr").joinpath("_rubrics")
    if packaged.is_dir():
        return Path(str(packaged))
    source = Path(__file__).resolve().parent.parent / "rubrics"
    if source.is_dir():
        return source
    raise VbrError("built-in rubrics are missing from this installation", hint="reinstall vbr")


def user_rubric_dirs(extra: Iterable[str | Path] = ()) -> list[Path]:
    dirs = [Path(p) for p in extra]
    env = os.environ.get(RUBRIC_PATH_ENV, "")
    dirs += [Path(p) for p in env.split(os.pathsep) if p.strip()]
    return dirs


def rubric_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


# --------------------------------------------------------------------------- line lookup


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """Walk a composed YAML node along a pydantic error location; stop where the path ends."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = None
            for key, value in node.value:
                if key.value == str(part):
                    nxt = value
                    break
            if nxt is None:
                return node
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return node
            node = node.value[part]
        else:
            return node
    return node


def _field_path(loc: tuple[Any, ...], data: Any) -> str:
    """A readable path such as ``values[2](compassion).indicators[0].phrases``."""
    out: list[str] = []
    cur = data
    for part in loc:
        if isinstance(part, int):
            label = f"[{part}]"
            if isinstance(cur, list) and part < len(cur) and isinstance(cur[part], dict) and "id" in cur[part]:
                label += f"({cur[part]['id']})"
            out.append(label)
            cur = cur[part] if isinstance(cur, list) and part < len(cur) else None
        else:
            # pydantic adds model names for unions ("FreeTextKey") and validator tags; keep them out
            tag = str(part)
            if isinstance(cur, dict) and tag not in cur and (tag[:1].isupper() or "[" in tag):
                continue
            out.append(("." if out else "") + str(part))
            cur = cur.get(part) if isinstance(cur, dict) else None
    return "".join(out) or "(top level)"


def parse_rubric_text(text: str, *, source: str = "<string>") -> Rubric:
    """Parse and validate rubric YAML; raise :class:`ValidationFailed` listing every problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ValidationFailed(
            f"not valid YAML: {getattr(exc, 'problem', exc)}",
            file=source, line=(mark.line + 1) if mark else None,
            hint="check indentation and quoting",
        ) from None
    if not isinstance(data, dict):
        raise ValidationFailed("a rubric file must be a YAML mapping", file=source, line=1)
    _check_duplicate_keys(node, source)
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            target = _node_at(node, loc) if node is not None else None
            line = target.start_mark.line + 1 if target is not None else None
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown field '{loc[-1]}' (a typo? see `vbr rubrics show 6cs` for the shape)"
            elif err["type"] == "missing":
                msg = f"required field '{loc[-1]}' is missing"
            elif err["type"] in ("enum", "literal_error"):
                msg = f"{msg}; got {err.get('input')!r}"
            problems.append(ValidationFailed(msg, file=source, line=line, field=_field_path(loc, data)))
        raise ValidationFailed(
            f"rubric is not valid ({len(problems)} problem{'s' if len(problems) != 1 else ''})",
            file=source, problems=problems, hint="fix each line listed, then run `vbr rubrics validate`",
        ) from None


def _check_duplicate_keys(node: yaml.Node | None, source: str) -> None:
    """YAML silently keeps the last of two equal keys; a rubric author never means that."""
    if node is None:
        return
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in n.value:
                if key.value in seen:
                    raise ValidationFailed(
                        f"key '{key.value}' appears twice (first on line {seen[key.value]})",
                        file=source, line=key.start_mark.line + 1, field=key.value,
                    )
                seen[key.value] = key.start_mark.line + 1
                stack.append(value)
        elif isinstance(n, yaml.SequenceNode):
            stack.extend(n.value)


def load_rubric_file(path: str | Path) -> Rubric:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed(f"not UTF-8 text (byte {exc.start})", file=str(path),
                               hint="save the file as UTF-8") from None
    except OSError as exc:
        raise ValidationFailed(f"cannot read: {exc.strerror}", file=str(path)) from None
    return parse_rubric_text(text, source=str(path))


def dump_rubric(rubric: Rubric) -> str:
    """YAML for a rubric; ``parse_rubric_text(dump_rubric(r)) == r`` (tested with hypothesis)."""
    data = rubric.model_dump(mode="json", exclude_none=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def builtin_rubrics() -> list[Rubric]:
    return [load_rubric_file(p) for p in rubric_files(builtin_rubric_dir())]

"""The pluggy plugin manager: default plugins, entry points, and the registry built from them.

Why this shape (after simonw/llm and datasette): the built-in scorers, regimes and file formats
are plugins registered exactly like third-party ones, so a user can replace any of them.
A third-party plugin that fails to import is reported by name and the rest keep working,
unless ``VBR_STRICT_PLUGINS=1``. ``VBR_LOAD_PLUGINS`` (comma-separated distribution or entry
point names; empty for none) limits which third-party plugins load.
"""

from __future__ import annotations

import importlib
import importlib.metadata as md
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pluggy

from vbr import hookspecs
from vbr.errors import PluginError

DEFAULT_PLUGINS = (
    "vbr.default_plugins.rubrics",
    "vbr.default_plugins.redactors",
    "vbr.default_plugins.scorers",
    "vbr.default_plugins.models",
    "vbr.default_plugins.regimes",
    "vbr.default_plugins.formats",
    "vbr.pages.plugin",
    "vbr.webhooks.plugin",
)

LOAD_ENV = "VBR_LOAD_PLUGINS"
STRICT_ENV = "VBR_STRICT_PLUGINS"


@dataclass
class LoadFailure:
    name: str
    error: str


@dataclass
class PluginSystem:
    pm: pluggy.PluginManager
    failures: list[LoadFailure] = field(default_factory=list)
    distributions: dict[str, str] = field(default_factory=dict)
    _registry: dict[str, dict[str, Any]] | None = None

    @property
    def hook(self):
        return self.pm.hook

    def registry(self, kind: str) -> dict[str, Any]:
        """Objects registered under ``kind`` (rubrics, scorers, ...) by id; duplicates are errors."""
        if self._registry is None:
            self._registry = {}
        if kind not in self._registry:
            self._registry[kind] = collect(self.pm, kind)
        return self._registry[kind]

    def describe(self) -> list[dict[str, Any]]:
        """What is loaded, from which distribution, implementing which hooks."""
        out = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            out.append({
                "name": name,
                "distribution": self.distributions.get(name, "vbr (built in)"),
                "hooks": hooks,
            })
        return out


_KIND_HOOKS = {
    "rubrics": "vbr_register_rubrics",
    "scorers": "vbr_register_scorers",
    "redactors": "vbr_register_redactors",
    "regimes": "vbr_register_regimes",
    "groupings": "vbr_register_groupings",
    "importers": "vbr_register_importers",
    "exporters": "vbr_register_exporters",
}


def collect(pm: pluggy.PluginManager, kind: str) -> dict[str, Any]:
    """Call one registration hook plugin by plugin so a duplicate id can name both plugins."""
    hook_name = _KIND_HOOKS[kind]
    caller = getattr(pm.hook, hook_name)
    found: dict[str, Any] = {}
    owner: dict[str, str] = {}
    # get_hookimpls() is in call order reversed (last registered first is called first)
    for impl in reversed(caller.get_hookimpls()):
        items = impl.function() or []
        for item in items:
            if kind == "rubrics" and isinstance(item, (str, Path)):
                from vbr.rubrics import load_rubric_file

                item = load_rubric_file(item)
            item_id = getattr(item, "id", None)
            if not item_id:
                raise PluginError(f"plugin '{impl.plugin_name}' registered a {kind[:-1]} without an id")
            if item_id in found:
                raise PluginError(
                    f"{kind[:-1]} id '{item_id}' is registered by two plugins: "
                    f"'{owner[item_id]}' and '{impl.plugin_name}'",
                    hint=f"uninstall one of them, or limit plugins with {LOAD_ENV}",
                )
            found[item_id] = item
            owner[item_id] = impl.plugin_name
    return found


def _wanted(names: str | None) -> set[str] | None:
    if names is None:
        return None
    return {n.strip() for n in names.split(",") if n.strip()}


def build(
    *, load_entrypoints: bool = True, strict: bool | None = None, extra_plugins: tuple = ()
) -> PluginSystem:
    """Build a fresh plugin system. ``extra_plugins`` are objects registered last (tests, embedding)."""
    strict = os.environ.get(STRICT_ENV, "") not in ("", "0", "false") if strict is None else strict
    pm = pluggy.PluginManager("vbr")
    pm.add_hookspecs(hookspecs)
    system = PluginSystem(pm)
    for modname in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(modname), name=modname)
    if load_entrypoints:
        wanted = _wanted(os.environ.get(LOAD_ENV))
        for ep in md.entry_points(group="vbr"):
            dist_name = ep.dist.metadata["name"] if ep.dist else ""
            if wanted is not None and ep.name not in wanted and dist_name not in wanted:
                continue
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
                if ep.dist is not None:
                    system.distributions[ep.name] = f"{dist_name} {ep.dist.version}"
            except Exception as exc:  # noqa: BLE001 - isolate any failure of third-party code
                msg = f"{type(exc).__name__}: {exc}"
                if strict:
                    raise PluginError(f"plugin '{ep.name}' ({dist_name}) failed to load: {msg}") from exc
                system.failures.append(LoadFailure(f"{ep.name} ({dist_name})" if dist_name else ep.name, msg))
    for plugin in extra_plugins:
        pm.register(plugin)
    pm.check_pending()
    return system


_lock = threading.Lock()
_current: PluginSystem | None = None


def get_plugins() -> PluginSystem:
    """The process-wide plugin system, built on first use."""
    global _current
    with _lock:
        if _current is None:
            _current = build()
        return _current


def reset_plugins(system: PluginSystem | None = None) -> None:
    """Drop (or replace) the process-wide plugin system; tests and embedders use this."""
    global _current
    with _lock:
        _current = system

"""File adapters: how NHS trusts move data in and out of vbr without an ATS integration.

Each adapter is a plugin object registered through ``vbr_register_importers`` /
``vbr_register_exporters`` (the built-in ones in :mod:`vbr.default_plugins.formats`):

===================  ===========  ==========================================================
id                   kind         what
===================  ===========  ==========================================================
``nhs-jobs-csv``     applications NHS Jobs-style CSV, one row per application (resumable by id)
``jsonl``            applications JSON lines, one application per line (resumable by id)
``equality-csv``     equality     equality-monitoring CSV into the equality store (all-or-nothing)
``scores-csv``       scores       current scores with evidence, CSV
``scores-jsonl``     scores       current scores with evidence, JSON lines
``wres-indicator-2`` wres         WRES indicator 2 counts, CSV
===================  ===========  ==========================================================

An applications importer has ``id``, ``kind = "applications"``, ``suffixes`` and
``read(path, *, campaign_id, questions, mapping=None, vacancy=None) -> ParsedFile`` (no database
access); :func:`import_applications` checks and stores what it read. An exporter has ``id``,
``kind`` and ``write(rows, path) -> int``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

from vbr.errors import NotFound
from vbr.formats.applications import (ApplicationsImportReport, ParsedApplication, ParsedFile, Progress,
                                      campaign_questions, check_batch_size, store_parsed)
from vbr.formats.csvio import Rejection


@runtime_checkable
class Importer(Protocol):
    id: str
    kind: str

    def read(self, path: str | Path, **options: Any) -> Any: ...


@runtime_checkable
class Exporter(Protocol):
    id: str
    kind: str

    def write(self, rows: Any, path: str | Path) -> int: ...


def find_adapter(registry: Mapping[str, Any], kind: str, path: str | Path | None = None,
                 adapter_id: str | None = None) -> Any:
    """The adapter named ``adapter_id``, or the one of ``kind`` whose suffixes fit ``path``."""
    if adapter_id:
        if adapter_id not in registry or getattr(registry[adapter_id], "kind", None) != kind:
            known = sorted(k for k, v in registry.items() if getattr(v, "kind", None) == kind)
            raise NotFound(f"no {kind} format '{adapter_id}'", hint=f"installed: {', '.join(known) or 'none'}")
        return registry[adapter_id]
    suffix = Path(path).suffix.lower() if path else ""
    fits = [v for v in registry.values() if getattr(v, "kind", None) == kind
            and suffix in getattr(v, "suffixes", ())]
    if not fits:
        known = sorted(k for k, v in registry.items() if getattr(v, "kind", None) == kind)
        raise NotFound(f"no {kind} format reads '{suffix or path}' files",
                       hint=f"pass --format (installed: {', '.join(known) or 'none'})")
    return sorted(fits, key=lambda v: v.id)[0]


def import_applications(engine, path: str | Path, campaign_id: str, *, actor: str, importer: Any = None,
                        mapping: Any = None, vacancy: str | None = None, skip_rejected: bool = False,
                        batch_size: int = 1000, progress: Progress | None = None) -> ApplicationsImportReport:
    """Read ``path`` with ``importer`` (default: by file suffix) and store it into ``campaign_id``.

    Resumable by application id; see :mod:`vbr.formats.applications`. ``engine`` is a
    :class:`vbr.Engine`.
    """
    check_batch_size(batch_size)
    if importer is None or isinstance(importer, str):
        importer = find_adapter(engine.plugins.registry("importers"), "applications", path, importer)
    _, questions = campaign_questions(engine, campaign_id)
    parsed = importer.read(path, campaign_id=campaign_id, questions=questions, mapping=mapping, vacancy=vacancy)
    return store_parsed(engine, parsed, path, campaign_id, actor=actor, skip_rejected=skip_rejected,
                        batch_size=batch_size, progress=progress)


__all__ = ["Importer", "Exporter", "ParsedApplication", "ParsedFile", "Rejection", "ApplicationsImportReport",
           "import_applications", "find_adapter"]

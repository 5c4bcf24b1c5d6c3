"""Built-in file formats: NHS Jobs-style CSV and JSON lines applications, equality CSV, scores
(CSV and JSON lines) and the WRES indicator-2 extract. See :mod:`vbr.formats`."""

from __future__ import annotations

from vbr.hookspecs import hookimpl


@hookimpl(trylast=True)
def vbr_register_importers():
    from vbr.formats.equality_csv import EqualityCsvImporter
    from vbr.formats.jsonl import JsonLinesImporter
    from vbr.formats.nhsjobs import NhsJobsCsvImporter

    return [NhsJobsCsvImporter(), JsonLinesImporter(), EqualityCsvImporter()]


@hookimpl(trylast=True)
def vbr_register_exporters():
    from vbr.formats.jsonl import ScoresJsonLinesExporter
    from vbr.formats.scores import ScoresCsvExporter
    from vbr.formats.wres import WresIndicator2Exporter

    return [ScoresCsvExporter(), ScoresJsonLinesExporter(), WresIndicator2Exporter()]

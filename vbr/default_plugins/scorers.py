"""Built-in scorers: the explainable evidence (indicator) scorer, vbr's cold-start default."""

from __future__ import annotations

from vbr.hookspecs import hookimpl
from vbr.scoring.evidence import EvidenceScorer


@hookimpl(trylast=True)
def vbr_register_scorers():
    return [EvidenceScorer()]

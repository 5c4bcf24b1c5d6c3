"""vbr: values-based recruitment for the NHS.

Scores candidates' answers against value rubrics with evidence, audits adverse impact across
ethnic groups before any shortlist is released, and plugs into applicant-tracking systems.
``vbr.Engine`` is the facade an ATS embeds; it is imported lazily to keep ``import vbr`` light.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Engine":
        from vbr.engine import Engine

        return Engine
    raise AttributeError(f"module 'vbr' has no attribute {name!r}")

"""vbr: values-based recruitment for the NHS.

Scores candidates' answers against value rubrics with evidence, audits adverse impact across
ethnic groups before any shortlist is released, and plugs into applicant-tracking systems.
"""

__version__ = "0.1.0"

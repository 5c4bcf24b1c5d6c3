"""Built-in redactors: names, emails, UK phone numbers, NHS numbers, postcodes and addresses.

Registered ``trylast`` so an installed plugin can add its own (for example a local list of ward
or staff names). Every registered redactor runs on every answer, in ascending ``order``.
"""

from __future__ import annotations

from vbr.hookspecs import hookimpl
from vbr.scoring.redaction import default_redactors


@hookimpl(trylast=True)
def vbr_register_redactors():
    return default_redactors()

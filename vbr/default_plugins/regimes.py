"""Built-in audit regimes (UGESP four-fifths, NYC LL144, NHS WRES) and ethnic-category groupings.

Registered like any third-party plugin and marked ``trylast`` so an installed plugin can add to
or replace them (a plugin claiming the same id is a start-up error naming both).
"""

from vbr.hookspecs import hookimpl


@hookimpl(trylast=True)
def vbr_register_regimes():
    from vbr.fairness.regimes import builtin_regimes

    return builtin_regimes()


@hookimpl(trylast=True)
def vbr_register_groupings():
    from vbr.fairness.groupings import builtin_groupings

    return builtin_groupings()

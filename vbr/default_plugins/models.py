"""The institution's trained models as the ``learned`` scorer, when ``VBR_MODELS`` names them.

``VBR_MODELS=compassion-1.vbrm:courage-2.vbrm vbr serve`` lets an ATS score a campaign with
``{"scorer": "learned"}``; ``vbr score CAMPAIGN --scorer learned`` does the same from the shell.
Unset, nothing is registered. A file that cannot be read or trusted stops the registry with an
error naming it (see :mod:`vbr.scoring.model_io`)."""

from __future__ import annotations

import os

from vbr.hookspecs import hookimpl


@hookimpl(trylast=True)
def vbr_register_scorers():
    from vbr.scoring.model_scorer import MODELS_ENV, ModelSet, model_paths

    paths = model_paths(os.environ.get(MODELS_ENV))
    return [ModelSet(paths)] if paths else []

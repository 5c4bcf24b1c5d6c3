"""Built-in rubrics (6Cs, NHS Constitution) and the user's rubric directories."""

from __future__ import annotations

from vbr.hookspecs import hookimpl
from vbr.rubrics import builtin_rubric_dir, rubric_files, user_rubric_dirs


@hookimpl(trylast=True)
def vbr_register_rubrics():
    paths = rubric_files(builtin_rubric_dir())
    for directory in user_rubric_dirs():
        if directory.is_dir():
            paths += rubric_files(directory)
    return paths

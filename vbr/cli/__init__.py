"""The ``vbr`` command. Each sub-command lives in its own module and registers itself here.

Exit codes scripts can rely on: 0 success, 1 general failure, 2 invalid input, 3 plugin error,
4 not found, 5 integrity failure (tampered log or model), 6 shortlist held by the gate,
7 permission denied.
"""

from __future__ import annotations

import importlib
import sys

import typer

from vbr.cli.common import VbrGroup, console, err_console, run_guarded

app = typer.Typer(
    cls=VbrGroup,
    name="vbr",
    help="Values-based recruitment for the NHS: score answers against value rubrics with "
    "evidence, audit adverse impact across ethnic groups, and gate shortlist release.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# modules that add commands to ``app``; each exposes ``register(app)``
COMMAND_MODULES = (
    "vbr.cli.rubrics",
    "vbr.cli.plugins",
    "vbr.cli.log",
    "vbr.cli.demo",
)
_OPTIONAL_COMMAND_MODULES = (
    "vbr.cli.score",
    "vbr.cli.scorer",
    "vbr.cli.audit",
    "vbr.cli.shortlist",
    "vbr.cli.keys",
    "vbr.cli.serve",
    "vbr.cli.importing",
    "vbr.cli.scale",
    "vbr.cli.ratings",
)


def _register_all() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    for name in _OPTIONAL_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue  # not built yet
            raise
        module.register(app)
    from vbr.plugins import get_plugins

    get_plugins().hook.vbr_register_commands(cli=app)


def main(argv: list[str] | None = None) -> None:
    _register_all()
    run_guarded(app, argv if argv is not None else sys.argv[1:])


__all__ = ["app", "main", "console", "err_console"]

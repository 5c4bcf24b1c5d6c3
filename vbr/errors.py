"""Errors that tell a person where the problem is and what to do about it.

Every error raised for bad input names the file, the row or line, and the field, so an
integrator can fix the input without reading vbr's source.
"""

from __future__ import annotations


class VbrError(Exception):
    """Base class: ``exit_code`` is what the CLI returns for this kind of failure."""

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        row: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.line = line
        self.row = row
        self.field = field
        self.hint = hint
        super().__init__(str(self))

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(str(self.file))
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field:
            parts.append(f"field '{self.field}'")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.hint:
            text += f" ({self.hint})"
        return text

    def to_dict(self) -> dict:
        return {k: v for k, v in {
            "error": type(self).__name__, "message": self.message, "file": self.file,
            "line": self.line, "row": self.row, "field": self.field, "hint": self.hint,
        }.items() if v is not None}


class ValidationFailed(VbrError):
    """Input that does not match the expected shape (a rubric, a CSV, a response)."""

    exit_code = 2

    def __init__(self, message: str, *, problems: list["VbrError"] | None = None, **kw) -> None:
        self.problems = problems or []
        super().__init__(message, **kw)

    def __str__(self) -> str:
        if not self.problems:
            return super().__str__()
        return super().__str__() + "\n" + "\n".join(f"  - {p}" for p in self.problems)


class PluginError(VbrError):
    """A plugin failed to load or two plugins claim the same id."""

    exit_code = 3


class NotFound(VbrError):
    exit_code = 4


class IntegrityError(VbrError):
    """Stored data does not verify (a tampered log, a model trained for another rubric)."""

    exit_code = 5


class GateHeld(VbrError):
    """A shortlist the gate holds was asked to be released without a valid override."""

    exit_code = 6


class PermissionDenied(VbrError):
    exit_code = 7

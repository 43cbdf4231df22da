"""User-facing errors.

Every error caused by the user's input is an :class:`InputError`. The CLI prints its
one-line message to stderr and exits with code 2, without a traceback.
"""

from __future__ import annotations

from os import PathLike


class InputError(Exception):
    """Bad user input: a file, row or field that cannot be used.

    Parameters
    ----------
    message : str
        What is wrong, in one short sentence.
    file : str or PathLike, optional
        The offending file.
    row : int, optional
        1-based row (line or record) number in that file.
    field : str, optional
        The column / key that is wrong.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | PathLike[str] | None = None,
        row: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = " ".join(str(message).split())
        self.file = None if file is None else str(file)
        self.row = row
        self.field = field
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return ``file: row N: field F: message`` (parts that are unknown are left out)."""
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.field is not None:
            parts.append(f"field '{self.field}'")
        parts.append(self.message)
        return ": ".join(parts)


class CostCapError(InputError):
    """The pre-flight cost estimate is above the spending cap (``--max-cost``).

    Raised before anything is spent, unless partial runs are allowed (``--allow-partial``).
    An :class:`InputError`: the CLI exits with code 2.
    """


class NoUsableOutputError(Exception):
    """A stage ended with no usable output (every value NA, no label at all).

    The CLI prints the one-line message and exits with code 1 (2 is bad input); nothing is
    written. Answers already obtained stay in the LLM cache, so a re-run pays nothing twice.

    Parameters
    ----------
    what : str
        What was produced, e.g. ``"annotate: all 58 values are NA"``.
    reasons : mapping of str to int
        NA reasons and their counts.
    output : Any, optional
        The (unusable) result, for library callers that want to look at it.
    """

    def __init__(self, what: str, reasons: dict[str, int], *, output: object = None) -> None:
        self.reasons = dict(reasons)
        self.output = output
        counts = ", ".join(f"{r} {n}" for r, n in sorted(self.reasons.items())) or "no reason"
        self.message = (
            f"no usable output: {what} ({counts}); nothing written (answers already obtained "
            "are cached: a re-run pays nothing twice)"
        )
        super().__init__(self.message)

    def one_line(self) -> str:
        """The message on one line."""
        return " ".join(self.message.split())

"""The CLI's one way to print results: a table for people, exactly one JSON document with --json.

Results go to stdout; progress, warnings and errors go to stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import click

from provcausal.model.times import format_iso

if TYPE_CHECKING:
    import pandas as pd


def _pandas() -> Any:
    """pandas when something has imported it already, else ``None``: a value can only be a
    pandas object then, and ``provcausal --help`` or an import never pays for loading it."""
    return sys.modules.get("pandas")


__all__ = [
    "json_option",
    "output_file_option",
    "emit",
    "to_jsonable",
    "progress",
    "Bar",
    "warn",
    "info",
    "command_error",
    "shown",
    "plot_text",
    "terminal_text",
]

T = TypeVar("T")

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """The shared ``--json`` flag."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document on stdout, nothing else."
    )(func)


def output_file_option(help: str, metavar: str | None = None) -> Callable[[F], F]:
    """The shared required ``-o/--output FILE`` option of commands that write one file."""
    return click.option(
        "-o",
        "--output",
        required=True,
        type=click.Path(dir_okay=False),
        metavar=metavar,
        help=help,
    )


def to_jsonable(value: Any) -> Any:
    """Plain JSON values: datetimes as ISO 8601 (UTC), NaN as null, numpy scalars as numbers."""
    pd = _pandas()
    if pd is not None and isinstance(value, pd.DataFrame):
        return [to_jsonable(r) for r in value.to_dict(orient="records")]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    if pd is not None:
        if value is pd.NaT:  # a task without an end time (NaT is also a datetime instance)
            return None
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        if value is pd.NaT:  # NaT is a datetime subclass: test it first
            return None
    if isinstance(value, dt.datetime):
        return format_iso(value, zulu=True)
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: What a terminal may interpret: C0 and C1 controls (ESC starts colour, title and
#: cursor sequences; CSI is 0x9b), DEL, the Unicode line and paragraph separators, and the
#: bidirectional overrides and isolates that can make text read in another order, and lone
#: surrogates (a file name that is not UTF-8), which a UTF-8 terminal cannot even be sent.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
#: The same, less the line breaks that multi-line text is made of.
_CONTROL_IN_TEXT = re.compile(
    r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _code(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]  # \\n, \\x1b, \\u202e


def _escape(text: str) -> str:
    """Control characters shown as escapes: a newline in a stored name (written by another
    tool) must not break a table or forge a row."""
    return _CONTROL.sub(_code, text)


def shown(value: object) -> str:
    """One value (a name, a verdict, a note) as one line of terminal text: every control
    character as its escape (``\\n``, ``\\x1b``), so a name can neither run an escape
    sequence nor start a line of its own (``verdict: …`` forged by a newline)."""
    return _escape(str(value))


def plot_text(value: object) -> str:
    """A name for a matplotlib text: control characters escaped as on the terminal. The
    caller turns math off on the text (``set_parse_math(False)``), so ``$…$`` is shown, never
    read as TeX."""
    return shown(value)


def terminal_text(text: str) -> str:
    """Multi-line text for the terminal: its line breaks kept, every other control
    character escaped (names in it should have gone through :func:`shown` already)."""
    return _CONTROL_IN_TEXT.sub(_code, text)


def _cell(value: Any) -> str:
    return _escape(_cell_text(value))


def _cell_text(value: Any) -> str:
    value = to_jsonable(value)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        if isinstance(value, dict):
            return ", ".join(f"{k}:{v}" for k, v in value.items()) or "-"
        return ", ".join(map(str, value)) or "-"
    return str(value)


def table_text(frame: pd.DataFrame) -> str:
    """A plain aligned text table."""
    if frame.empty:
        return "(none)"
    cols = list(frame.columns)
    cells = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    cols = [_escape(str(c)) for c in cols]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(cols)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(cols, widths, strict=False)).rstrip()]
    lines += [
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)).rstrip() for r in cells
    ]
    return "\n".join(lines)


def emit(result: Any, as_json: bool, text: str | None = None) -> None:
    """Print ``result``: as one JSON document, or as ``text`` / a table / a string."""
    if as_json:
        document = to_jsonable(result)
        text = json.dumps(document, indent=2, ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (a name that is not UTF-8): as \udcff
            text = json.dumps(document, indent=2)
        click.echo(text)
    elif text is not None:
        click.echo(terminal_text(text))
    elif (pd := _pandas()) is not None and isinstance(result, pd.DataFrame):
        click.echo(table_text(result))
    else:
        click.echo(terminal_text(str(result)))


def _interactive(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


def progress(items: Iterable[T], *, length: int | None, label: str, quiet: bool) -> Iterator[T]:
    """Iterate ``items`` with a progress bar on a terminal's stderr; silent otherwise."""
    if not _interactive(quiet):
        yield from items
        return
    with click.progressbar(items, length=length, label=label, file=sys.stderr) as bar:
        yield from bar


class Bar:
    """A ``progress(done, total)`` callback drawing the same bar as imports, on a terminal's
    stderr only; a no-op with ``--quiet`` or off a terminal. Use it as a context manager."""

    def __init__(self, label: str, quiet: bool) -> None:
        self.label = label
        self.enabled = _interactive(quiet)
        self._bar: Any = None
        self._done = 0

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self._bar is None or self._bar.length != total:
            self.close()
            self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self._bar.__enter__()
            self._done = 0
        self._bar.update(max(0, done - self._done))
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)
            self._bar = None

    def __enter__(self) -> Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def command_error(message: str, exit_code: int) -> click.ClickException:
    """A click error that prints ``Error: message`` and exits with ``exit_code``."""
    cls = type("CommandError", (click.ClickException,), {"exit_code": exit_code})
    return cls(shown(message))


def warn(message: str, quiet: bool = False) -> None:
    if not quiet:
        click.echo(f"Warning: {shown(message)}", err=True)


def info(message: str, quiet: bool = False) -> None:
    if not quiet:
        click.echo(terminal_text(message), err=True)

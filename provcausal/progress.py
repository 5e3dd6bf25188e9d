"""Progress bars for the Python API: a notebook's progress bar inside Jupyter, else silence.

The CLI draws its own bars on a terminal; a library called from a script must not write to
stderr unasked. So the verbs of :mod:`provcausal.api` show a bar only in a Jupyter kernel with
``ipywidgets`` (tqdm's notebook bar, through ``tqdm.auto``), and callers can always pass their
own ``progress`` callback, or ``progress=False`` for none.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

__all__ = ["in_notebook", "notebook_bar", "Progress"]


def in_notebook() -> bool:
    """Whether this runs in a Jupyter kernel that can draw a notebook progress bar."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or "IPKernelApp" not in getattr(shell, "config", {}):
        return False
    try:
        import ipywidgets  # noqa: F401
        import tqdm.auto  # noqa: F401
    except ImportError:
        return False
    return True


class Progress:
    """A ``progress(done, total)`` callback and an iterator wrapper on one tqdm bar."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._bar: Any = None

    def _open(self, total: int) -> Any:
        if self._bar is None:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc=self.label, leave=False)
        return self._bar

    def __call__(self, done: int, total: int) -> None:
        bar = self._open(total)
        bar.total = total
        bar.n = done
        bar.refresh()

    def iterate(self, items: Iterator[Any], total: int) -> Iterator[Any]:
        bar = self._open(total)
        for item in items:
            yield item
            bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def notebook_bar(label: str, given: Any) -> tuple[Any, Progress | None]:
    """The ``progress`` to pass on, and the bar to close afterwards (if one was opened).

    ``given``: a callable is passed on as it is; ``False`` means none; ``None`` (the verbs'
    default) or ``True`` mean a notebook bar inside Jupyter, none anywhere else.
    """
    if callable(given):
        return given, None
    if given is False or not in_notebook():
        return None, None
    bar = Progress(label)
    return bar, bar

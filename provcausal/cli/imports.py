"""How the console command imports its heavy libraries: with the cyclic garbage collector
paused.

Importing pandas, networkx and the analysis makes some 10^5 objects (modules, classes,
functions) and no garbage, yet the collector ran about 200 times over them: 0.04 s of a
0.9 s ``provcausal attribute`` on the README's 1,000 runs per side (2-core machine,
December 2026). In the console process (:func:`provcausal.cli.main`) the collector is paused
while a command imports them, and what the imports made is then frozen
(:func:`gc.freeze`): it lives as long as the process, so later collections skip it, and
forked copies do not copy the pages a collection would touch. Elsewhere (``cli()`` called
from Python, tests, notebooks) nothing changes: a library must not freeze its host's
objects.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_console = False


def console_process() -> None:
    """Mark this process as the console command's own (called by ``main`` only)."""
    global _console
    _console = True


@contextmanager
def heavy_imports() -> Iterator[None]:
    """A block that imports the analysis stack: the collector pauses in the console
    process, and what the block imported is frozen when it ends."""
    if not _console or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()

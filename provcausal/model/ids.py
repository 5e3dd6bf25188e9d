"""Deterministic identifiers derived from the source, so that re-importing replaces records.

Every id is a short hash of the parts that identify a thing in its source (workflow name,
source system, run folder, SciPipe task ID, Node-RED line number...). The same source always
gives the same ids; different sources practically never collide (96 bits).
"""

from __future__ import annotations

import hashlib

__all__ = ["stable_hash", "run_id", "task_id", "entity_id"]

_SEP = "\x1f"


def stable_hash(*parts: object, length: int = 24) -> str:
    """Return a hex digest of ``parts``; equal parts give equal digests in every process.

    >>> stable_hash("a", 1) == stable_hash("a", 1)
    True
    >>> stable_hash("a", 1) == stable_hash("a1")
    False
    """
    digest = hashlib.blake2b(_SEP.join(map(str, parts)).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:length]


def run_id(system: str, workflow: str, source_key: str) -> str:
    """The id of one run: ``<system>-<hash>``; it is FlowCept's ``workflow_id``."""
    return f"{system}-{stable_hash(system, workflow, source_key, length=20)}"


def task_id(run: str, source_key: object) -> str:
    """The id of one task of ``run``; it is FlowCept's ``task_id``."""
    return f"t-{stable_hash(run, 'task', source_key)}"


def entity_id(run: str, source_key: object) -> str:
    """The id of one data item of ``run``."""
    return f"e-{stable_hash(run, 'entity', source_key)}"

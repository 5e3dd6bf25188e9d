"""Small builders shared by tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from provcausal.model import ids
from provcausal.model.convert import prov_to_flowcept
from provcausal.model.flowcept import RunRecords
from provcausal.model.prov import RunDocumentBuilder

T0 = dt.datetime(2023, 3, 13, 2, 25, 58, 834000, tzinfo=dt.timezone.utc)


def chain_run(
    source: str,
    workflow: str = "wf",
    label: str | None = "normal",
    nodes: tuple[str, ...] = ("a", "b", "c"),
    start: dt.datetime = T0,
    values: tuple[float, ...] | None = None,
    task_attrs: dict[str, Any] | None = None,
) -> RunRecords:
    """A run whose nodes form a chain a → b → c, each generating one valued entity."""
    run = ids.run_id("test", workflow, source)
    b = RunDocumentBuilder(run, workflow, "test")
    prev_entity = None
    for i, node in enumerate(nodes):
        t = ids.task_id(run, node)
        s = start + dt.timedelta(seconds=i)
        b.task(
            t,
            node,
            start=s,
            end=s + dt.timedelta(milliseconds=500),
            sample=run,
            attrs=task_attrs if i == 0 else None,
        )
        if prev_entity is not None:
            b.used(t, prev_entity)
        e = ids.entity_id(run, f"{node}.out")
        b.entity(e, name=f"{node}.out", value=(values[i] if values else float(i)))
        b.generated(e, t)
        prev_entity = e
    return prov_to_flowcept(
        b.document, run_id=run, workflow=workflow, system="test", label=label, source=source
    )

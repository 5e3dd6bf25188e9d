"""The unit a store writes: one run's FlowCept documents plus its original PROV document."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["RunRecords", "PC"]

#: Key under ``custom_metadata`` where provcausal keeps what FlowCept has no field for.
PC = "provcausal"


@dataclass
class RunRecords:
    """One run: its FlowCept ``workflows`` document, its ``tasks`` documents, and PROV-JSON."""

    workflow: dict[str, Any]
    tasks: list[dict[str, Any]]
    prov_json: str
    warnings: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return str(self.workflow["workflow_id"])

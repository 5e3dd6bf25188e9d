"""Which Seldon steps' output tensors are variables of their own (out-ports).

A step that returns *one of* several output tensors per request (a classifier returning only
``is_simple_claim`` or only ``is_complex_claim``) carries its signal in *which* tensor it
emitted: its first tensor is ``true`` whenever it ran. Such a step's tensors are recorded as
out-ports (``outPorts``, as SciPipe's), so that each becomes a variable ``step.tensor``. A
step's tensors are out-ports when it has more than one (seen in the requests, or named by the
spec) and the set it emits varies from request to request, or the spec triggers a step on one
of them, or a tensor the spec names is missing from some request. Presence variables (a BOOL
tensor, or one the spec triggers on) are 1 when the tensor was emitted and 0 when not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from provcausal.importers.seldon_spec import PipelineSpec

__all__ = ["StepPorts", "step_ports"]


@dataclass
class StepPorts:
    """Per step: its out-port tensors (only steps with out-ports) and the presence ones."""

    ports: dict[str, list[str]] = field(default_factory=dict)
    presence: dict[str, list[str]] = field(default_factory=dict)

    def out_ports(self, step: str) -> dict[str, str] | None:
        """``outPorts`` of a step's task: tensor → the output name (the tensor's)."""
        names = self.ports.get(step)
        return {name: name for name in names} if names else None

    def presence_nodes(self) -> list[str]:
        """The presence variables, ``step.tensor``."""
        return sorted(f"{s}.{t}" for s, tensors in self.presence.items() for t in tensors)


def _named(spec: PipelineSpec | None) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Tensors of each step the spec names (any reference), and those it triggers on."""
    named: dict[str, set[str]] = {}
    triggers: dict[str, set[str]] = {}
    if spec is None:
        return named, triggers
    for step in spec.steps.values():
        for ref in step.inputs + step.triggers:
            if ref.kind == "step" and ref.direction == "outputs" and ref.tensor:
                named.setdefault(ref.source, set()).add(ref.tensor)
        for ref in step.triggers:
            if ref.kind == "step" and ref.direction == "outputs" and ref.tensor:
                triggers.setdefault(ref.source, set()).add(ref.tensor)
    for ref in spec.outputs:
        if ref.kind == "step" and ref.direction == "outputs" and ref.tensor:
            named.setdefault(ref.source, set()).add(ref.tensor)
    return named, triggers


def step_ports(
    emitted: Iterable[tuple[str, list[tuple[str, Any]]]], spec: PipelineSpec | None
) -> StepPorts:
    """Out-ports from what each step emitted per request: ``(step, [(tensor, datatype), …])``
    for every request the step ran in (see the module docstring for the rule)."""
    seen: dict[str, list[frozenset[str]]] = {}
    bools: dict[str, set[str]] = {}
    for step, tensors in emitted:
        seen.setdefault(step, []).append(frozenset(name for name, _ in tensors))
        bools.setdefault(step, set()).update(
            name for name, datatype in tensors if str(datatype).upper() == "BOOL"
        )
    named, triggers = _named(spec)
    out = StepPorts()
    for step, sets in seen.items():
        names = set().union(*sets) | named.get(step, set())
        if len(names) < 2:
            continue
        varies = len(set(sets)) > 1
        missing = any(not named.get(step, set()) <= s for s in sets)
        if not (varies or missing or triggers.get(step)):
            continue
        out.ports[step] = sorted(names)
        flags = (bools.get(step, set()) | triggers.get(step, set())) & names
        if flags:
            out.presence[step] = sorted(flags)
    return out

"""Seldon Core v2 ``Pipeline`` specs: steps, their inputs, triggers and tensor maps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.importers.base import read_text

from provcausal.errors import BadInputError

__all__ = ["Ref", "StepSpec", "PipelineSpec", "parse_spec", "parse_ref"]


@dataclass(frozen=True)
class Ref:
    """``<step|pipe>.<inputs|outputs>[.<tensor>]``, normalised (bare names resolved)."""

    source: str
    kind: str  # "step" | "pipeline"
    direction: str  # "inputs" | "outputs"
    tensor: str | None


@dataclass
class StepSpec:
    name: str
    inputs: list[Ref] = field(default_factory=list)
    triggers: list[Ref] = field(default_factory=list)
    tensor_map: dict[str, str] = field(default_factory=dict)
    inputs_join: str = "inner"
    triggers_join: str = "inner"


@dataclass
class PipelineSpec:
    name: str
    steps: dict[str, StepSpec] = field(default_factory=dict)
    outputs: list[Ref] = field(default_factory=list)

    def gated_steps(self) -> set[str]:
        """Steps that may not run for a request: triggered, or fed by one specific tensor."""
        return {
            s.name
            for s in self.steps.values()
            if s.triggers or any(r.kind == "step" and r.tensor for r in s.inputs)
        }


def parse_ref(text: str, pipeline: str, steps: set[str]) -> Ref:
    parts = text.split(".")
    source = parts[0]
    kind = "pipeline" if source == pipeline and source not in steps else "step"
    if len(parts) == 1:
        return Ref(source, kind, "inputs" if kind == "pipeline" else "outputs", None)
    direction = parts[1]
    if direction not in ("inputs", "outputs"):
        raise ValueError(f"expected inputs or outputs after {source!r} in {text!r}")
    return Ref(source, kind, direction, ".".join(parts[2:]) or None)


def parse_spec(path: Path, renames: dict[str, str] | None = None) -> PipelineSpec:
    """Read a ``kind: Pipeline`` YAML; errors name the file and key. ``renames`` (OLD → NEW)
    apply to step and pipeline names alike, so that two versions of a pipeline compare."""
    import yaml

    renames = renames or {}
    try:
        doc: Any = yaml.safe_load(read_text(path))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise BadInputError(
            f"not valid YAML ({getattr(exc, 'problem', exc)})",
            path=str(path),
            line=mark.line + 1 if mark else None,
        ) from None
    if not isinstance(doc, dict) or doc.get("kind") != "Pipeline":
        raise BadInputError(
            "expected a Seldon 'kind: Pipeline' document", path=str(path), key="kind"
        )
    name = str((doc.get("metadata") or {}).get("name") or "")
    if not name:
        raise BadInputError("missing key", path=str(path), key="metadata.name")
    spec_body = doc.get("spec") or {}
    raw_steps = spec_body.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise BadInputError("a pipeline needs a list of steps", path=str(path), key="spec.steps")

    def rn(step: str) -> str:
        return renames.get(step, step)

    names = {rn(str(s.get("name"))) for s in raw_steps if isinstance(s, dict)}
    spec = PipelineSpec(rn(name))
    for i, raw in enumerate(raw_steps):
        if not isinstance(raw, dict) or not raw.get("name"):
            raise BadInputError("a step needs a name", path=str(path), key=f"spec.steps[{i}].name")
        step = StepSpec(rn(str(raw["name"])))
        try:

            def refs(items: Any, key: str, i: int = i) -> list[Ref]:
                if items is None:
                    return []
                if not isinstance(items, list):
                    raise BadInputError(
                        "expected a list", path=str(path), key=f"spec.steps[{i}].{key}"
                    )
                out = []
                for item in items:
                    ref = parse_ref(str(item), name, names)
                    out.append(Ref(rn(ref.source), ref.kind, ref.direction, ref.tensor))
                return out

            step.inputs = refs(raw.get("inputs"), "inputs") or [
                Ref(rn(name), "pipeline", "inputs", None)
            ]
            step.triggers = refs(raw.get("triggers"), "triggers")
        except ValueError as exc:
            raise BadInputError(str(exc), path=str(path), key=f"spec.steps[{i}]") from None
        step.tensor_map = {str(k): str(v) for k, v in (raw.get("tensorMap") or {}).items()}
        step.inputs_join = str(raw.get("inputsJoinType") or "inner")
        step.triggers_join = str(raw.get("triggersJoinType") or "inner")
        spec.steps[step.name] = step
    out_steps = ((spec_body.get("output") or {}).get("steps")) or []
    try:
        spec.outputs = [parse_ref(str(r), name, names) for r in out_steps]
        spec.outputs = [Ref(rn(r.source), r.kind, r.direction, r.tensor) for r in spec.outputs]
    except ValueError as exc:
        raise BadInputError(str(exc), path=str(path), key="spec.output.steps") from None
    return spec

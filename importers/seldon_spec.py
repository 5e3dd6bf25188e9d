"""Seldon Core v2 ``Pipeline`` specs: steps, their inputs, triggers and tensor maps."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from provcausal.importers.base import read_text
from provcausal.importers.safe_yaml import load_yaml

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


def _mapping(parent: dict[str, Any], key: str, path: Path, prefix: str = "") -> dict[str, Any]:
    """``parent[key]`` if it is a mapping (empty if absent); any other type is bad input
    naming the key (``spec: [1]``)."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInputError(
            f"expected a mapping, not {type(value).__name__}", path=str(path), key=prefix + key
        )
    return value


def _text(value: Any, key: str, path: Path) -> str:
    """A name: a YAML scalar (a string, or a number written as one), never a list or map."""
    if isinstance(value, (dict, list)):
        raise BadInputError(f"expected a name, not {type(value).__name__}", path=str(path), key=key)
    return "" if value is None else str(value)


def parse_spec(path: Path, renames: dict[str, str] | None = None) -> PipelineSpec:
    """Read a ``kind: Pipeline`` YAML; errors name the file and key. ``renames`` (OLD → NEW)
    apply to step and pipeline names alike, so that two versions of a pipeline compare."""
    renames = renames or {}
    doc: Any = load_yaml(read_text(path), path)
    if not isinstance(doc, dict) or doc.get("kind") != "Pipeline":
        raise BadInputError(
            "expected a Seldon 'kind: Pipeline' document", path=str(path), key="kind"
        )
    name = _text(_mapping(doc, "metadata", path).get("name"), "metadata.name", path)
    if not name:
        raise BadInputError("missing key", path=str(path), key="metadata.name")
    spec_body = _mapping(doc, "spec", path)
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
        step = StepSpec(rn(_text(raw["name"], f"spec.steps[{i}].name", path)))
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
        tensor_map = _mapping(raw, "tensorMap", path, f"spec.steps[{i}].")
        step.tensor_map = {str(k): str(v) for k, v in tensor_map.items()}
        step.inputs_join = str(raw.get("inputsJoinType") or "inner")
        step.triggers_join = str(raw.get("triggersJoinType") or "inner")
        spec.steps[step.name] = step
    out_steps = _mapping(spec_body, "output", path, "spec.").get("steps") or []
    if not isinstance(out_steps, list):
        raise BadInputError("expected a list", path=str(path), key="spec.output.steps")
    try:
        spec.outputs = [parse_ref(str(r), name, names) for r in out_steps]
        spec.outputs = [Ref(rn(r.source), r.kind, r.direction, r.tensor) for r in spec.outputs]
    except ValueError as exc:
        raise BadInputError(str(exc), path=str(path), key="spec.output.steps") from None
    return spec

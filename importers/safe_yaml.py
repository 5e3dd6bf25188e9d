"""YAML read as data only, and bounded: no tags beyond YAML's own (PyYAML's ``SafeLoader``),
and no alias bombs.

An alias (``*a``) refers to an anchored node without copying it, so a 629-byte file of
nested aliases stands for billions of nodes; whatever walks the result (printing it, turning
a value into text) then grows without end. The document's size with every alias expanded is
counted on the composed node graph, once per distinct node, before anything is built from
it: larger than :data:`MAX_YAML_NODES`, or an alias inside its own anchor, is refused.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from provcausal.errors import BadInputError

__all__ = ["MAX_YAML_NODES", "load_yaml"]

#: The most nodes a YAML document may stand for with its aliases expanded (a Seldon
#: pipeline spec has a few hundred).
MAX_YAML_NODES = 100_000


class _TooLarge(Exception):
    pass


def _children(node: Any) -> list[Any]:
    import yaml

    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: Any, limit: int = MAX_YAML_NODES) -> int:
    """How many nodes ``root`` (a composed YAML node) stands for with aliases expanded;
    each distinct node is visited once (no recursion). Raises ``_TooLarge`` past ``limit``
    and ``ValueError`` for an alias inside its own anchor."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > limit:
                raise _TooLarge(total)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in open_nodes:
            raise ValueError("an alias refers to a node that contains it")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    return sizes[id(root)]


def load_yaml(text: str, path: Path | str) -> Any:
    """The one document of YAML ``text``; errors name the file ``path`` (and the line)."""
    import yaml

    class BoundedLoader(yaml.SafeLoader):
        def get_single_node(self) -> Any:
            node = super().get_single_node()
            if node is not None:
                try:
                    expanded_size(node)
                except _TooLarge:
                    raise BadInputError(
                        f"YAML aliases expand to more than {MAX_YAML_NODES:,} nodes "
                        "(an alias bomb?)",
                        path=str(path),
                    ) from None
                except ValueError as exc:
                    raise BadInputError(str(exc), path=str(path)) from None
            return node

    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise BadInputError(
            f"not valid YAML ({getattr(exc, 'problem', exc)})",
            path=str(path),
            line=mark.line + 1 if mark else None,
        ) from None
    except RecursionError:
        raise BadInputError("YAML nested too deeply", path=str(path)) from None

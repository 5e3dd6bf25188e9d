"""FlowCept 1.0.3's settings, resolved the way ``flowcept.configs`` resolves them.

FlowCept reads its settings once, at import of ``flowcept.configs``: that module also reads the
host name, the login and every other setting, and importing it imports the ``flowcept``
package. It cannot be called without side effects, so its rules are repeated here, with the
same library (OmegaConf) doing the loading and interpolation:

- ``FLOWCEPT_USE_DEFAULT`` true (``1``, ``true``, ``yes``, ``y``, ``t``): FlowCept's built-in
  defaults, no file, and no environment overrides;
- else the file named by ``FLOWCEPT_SETTINGS_PATH`` (default ``~/.flowcept/settings.yaml``),
  loaded with ``OmegaConf.load`` and resolved (``${oc.env:VAR,default}``, ``${other.key}``);
  a missing file means the defaults;
- environment overrides: ``MONGO_ENABLED``, ``MONGO_URI``, ``MONGO_HOST``, ``MONGO_PORT``,
  ``LMDB_ENABLED``, ``LMDB_PATH``; ``databases.mongodb.db`` has none.

>>> FlowceptSettings(path="FLOWCEPT_DEFAULT_SETTINGS", lmdb_enabled=True).database()
'lmdb'
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from provcausal.errors import BadInputError, MissingDependencyError

__all__ = ["FlowceptSettings", "load_flowcept_settings", "DEFAULT_SETTINGS_PATH"]

#: What FlowCept calls its settings when no file is read.
DEFAULT_SETTINGS_PATH = "FLOWCEPT_DEFAULT_SETTINGS"
_TRUE = {"1", "true", "yes", "y", "t"}


@dataclass(frozen=True)
class FlowceptSettings:
    """The database part of a FlowCept deployment's settings."""

    path: str
    mongo_enabled: bool = False
    mongo_uri: str | None = None
    mongo_host: str = "localhost"
    mongo_port: int = 27017
    mongo_db: str = "flowcept"
    lmdb_enabled: bool = False
    lmdb_path: str = "flowcept_lmdb"

    def mongo_connection_uri(self) -> str:
        """The URI FlowCept's MongoDB DAO connects with (``uri`` wins over host and port)."""
        if self.mongo_uri:
            return self.mongo_uri
        return f"mongodb://{self.mongo_host}:{self.mongo_port}/{self.mongo_db}"

    def database(self) -> str:
        """``"mongodb"`` or ``"lmdb"``: the enabled database provcausal reads.

        FlowCept's DocumentInserter writes to every enabled database; when both are enabled
        they hold the same tasks and MongoDB (indexed) is read.
        """
        if self.mongo_enabled:
            return "mongodb"
        if self.lmdb_enabled:
            return "lmdb"
        raise BadInputError(
            "FlowCept enables no database (databases.mongodb.enabled and "
            "databases.lmdb.enabled are false)",
            path=self.path,
            key="databases",
        )


def _is_true(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


def _read_file(path: Path) -> dict[str, Any]:
    """``OmegaConf.load`` + ``to_container(resolve=True)``, as FlowCept does."""
    try:
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        raise MissingDependencyError("reading FlowCept settings needs omegaconf") from None
    try:
        conf = OmegaConf.load(path)
    except OSError as exc:
        raise BadInputError(
            f"cannot read FlowCept settings: {exc.strerror}", path=str(path)
        ) from None
    except Exception as exc:  # yaml's errors, OmegaConf's key errors
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"not valid settings YAML: {reason}", path=str(path)) from None
    try:
        data = OmegaConf.to_container(conf, resolve=True)
    except OmegaConfBaseException as exc:
        key = getattr(exc, "full_key", None) or None
        reason = (getattr(exc, "msg", None) or str(exc)).splitlines()[0]
        reason = reason.replace("KeyError raised while resolving interpolation: ", "")
        raise BadInputError(f"cannot resolve: {reason}", path=str(path), key=key) from None
    if not isinstance(data, dict):
        raise BadInputError("FlowCept settings must be a mapping", path=str(path))
    return {str(k): v for k, v in data.items()}


def _section(settings: dict[str, Any], path: str, *keys: str) -> dict[str, Any]:
    node: Any = settings
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return {}
    if not isinstance(node, dict):
        raise BadInputError("expected a mapping", path=path, key=".".join(keys))
    return node


def _port(value: Any, path: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise BadInputError(
            f"port {value!r} is not a number", path=path, key="databases.mongodb.port"
        ) from None


def load_flowcept_settings(environ: dict[str, str] | None = None) -> FlowceptSettings:
    """The database settings a FlowCept 1.0.3 process started now would use.

    Interpolations (``${oc.env:…}``) read the process environment, as in FlowCept; the
    overrides read ``environ`` (default: the process environment).
    """
    env = os.environ if environ is None else environ
    use_default = _is_true(env.get("FLOWCEPT_USE_DEFAULT", "False"))
    settings: dict[str, Any] = {}
    path = DEFAULT_SETTINGS_PATH
    if not use_default:
        file = env.get("FLOWCEPT_SETTINGS_PATH") or os.path.expanduser("~/.flowcept/settings.yaml")
        if os.path.exists(file):
            path = file
            settings = _read_file(Path(file))

    def override(name: str, default: Any) -> Any:
        return default if use_default else env.get(name, default)

    mongo = _section(settings, path, "databases", "mongodb")
    lmdb = _section(settings, path, "databases", "lmdb")
    # FlowCept reads the overrides only when the section exists in its settings (the
    # defaults hold both sections, disabled).
    has_mongo = bool(mongo) or not settings.get("databases")
    has_lmdb = bool(lmdb) or not settings.get("databases")
    out = FlowceptSettings(path=path)
    if has_mongo:
        uri = override("MONGO_URI", mongo.get("uri"))
        out = FlowceptSettings(
            path=path,
            mongo_enabled=_is_true(override("MONGO_ENABLED", str(mongo.get("enabled", False)))),
            mongo_uri=str(uri) if uri else None,
            mongo_host=str(override("MONGO_HOST", mongo.get("host", "localhost"))),
            mongo_port=_port(override("MONGO_PORT", mongo.get("port", 27017)), path),
            mongo_db=str(mongo.get("db", "flowcept")),
        )
    if has_lmdb:
        lmdb_path = override("LMDB_PATH", lmdb.get("path", "flowcept_lmdb"))
        enabled = _is_true(override("LMDB_ENABLED", str(lmdb.get("enabled", False))))
        out = replace(out, lmdb_enabled=enabled, lmdb_path=str(lmdb_path))
    return out

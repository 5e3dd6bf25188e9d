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

import io
import os
import re
import stat
from dataclasses import dataclass, field, replace
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
    #: ``uri``/``host``/``port``/``db`` of ``databases.mongodb`` written as an interpolation
    #: (``${oc.env:SECRET}``), by key: the expression, shown in errors instead of the value.
    expressions: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def mongo_connection_uri(self) -> str:
        """The URI FlowCept's MongoDB DAO connects with (``uri`` wins over host and port)."""
        if self.mongo_uri:
            return self.mongo_uri
        return f"mongodb://{self.mongo_host}:{self.mongo_port}/{self.mongo_db}"

    def hide_values(self, text: str) -> str:
        """``text`` with the resolved value of every interpolated setting replaced by its
        expression (a message from the driver may quote the URI, host or database)."""
        values = {"uri": self.mongo_uri, "host": self.mongo_host, "port": str(self.mongo_port),
                  "db": self.mongo_db}  # fmt: skip
        pairs = [(str(values[k]), e) for k, e in self.expressions.items() if values.get(k)]
        for value, expression in sorted(pairs, key=lambda p: len(p[0]), reverse=True):
            if len(value) >= 3:  # as uri_secrets: a short value would blank out plain text
                pattern = re.compile(rf"(?<![\w]){re.escape(value)}(?![\w])")
                text = pattern.sub(expression.replace("\\", "\\\\"), text)
        return text

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


def _regular_text(path: Path) -> str:
    """The text of ``path``, a regular file: opened non-blocking and checked on the open
    descriptor, so a FIFO (or a device) named as the settings cannot hang the command."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise BadInputError(
            f"cannot read FlowCept settings: {exc.strerror}", path=str(path)
        ) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = {stat.S_IFIFO: "a FIFO", stat.S_IFDIR: "a folder"}.get(
            stat.S_IFMT(mode), "not a regular file"
        )
        raise BadInputError(
            f"FlowCept settings must be a regular file; this is {kind}", path=str(path)
        )
    os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as file:
        data = file.read()
    return data.decode("utf-8", "replace")


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """``OmegaConf.load`` + ``to_container(resolve=True)``, as FlowCept does; also the
    unresolved settings (to show an interpolation instead of its value)."""
    try:
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        raise MissingDependencyError("reading FlowCept settings needs omegaconf") from None
    text = _regular_text(path)
    try:
        conf = OmegaConf.load(io.StringIO(text))
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
    raw = OmegaConf.to_container(conf, resolve=False)
    raw = raw if isinstance(raw, dict) else {}
    return {str(k): v for k, v in data.items()}, {str(k): v for k, v in raw.items()}


def _section(settings: dict[str, Any], path: str, *keys: str) -> dict[str, Any]:
    node: Any = settings
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return {}
    if not isinstance(node, dict):
        raise BadInputError("expected a mapping", path=path, key=".".join(keys))
    return node


def _port(value: Any, path: str, expression: str | None = None) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        shown = expression if expression is not None else repr(value)
        raise BadInputError(
            f"port {shown} is not a number", path=path, key="databases.mongodb.port"
        ) from None


def _expressions(raw: dict[str, Any], env: Any, use_default: bool) -> dict[str, str]:
    """The keys of ``databases.mongodb`` that hold an interpolation (and no environment
    override replaces), with the expression as written."""
    section = _section(raw, "", "databases", "mongodb") if raw else {}
    overrides = {"uri": "MONGO_URI", "host": "MONGO_HOST", "port": "MONGO_PORT", "db": None}
    out = {}
    for key, variable in overrides.items():
        value = section.get(key)
        overridden = variable is not None and not use_default and variable in env
        if isinstance(value, str) and "${" in value and not overridden:
            out[key] = value
    return out


def load_flowcept_settings(environ: dict[str, str] | None = None) -> FlowceptSettings:
    """The database settings a FlowCept 1.0.3 process started now would use.

    Interpolations (``${oc.env:…}``) read the process environment, as in FlowCept; the
    overrides read ``environ`` (default: the process environment).
    """
    env = os.environ if environ is None else environ
    use_default = _is_true(env.get("FLOWCEPT_USE_DEFAULT", "False"))
    settings: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    path = DEFAULT_SETTINGS_PATH
    if not use_default:
        file = env.get("FLOWCEPT_SETTINGS_PATH") or os.path.expanduser("~/.flowcept/settings.yaml")
        if os.path.lexists(file):
            path = file
            settings, raw = _read_file(Path(file))
    expressions = _expressions(raw, env, use_default)

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
        port = override("MONGO_PORT", mongo.get("port", 27017))
        out = FlowceptSettings(
            path=path,
            mongo_enabled=_is_true(override("MONGO_ENABLED", str(mongo.get("enabled", False)))),
            mongo_uri=str(uri) if uri else None,
            mongo_host=str(override("MONGO_HOST", mongo.get("host", "localhost"))),
            mongo_port=_port(port, path, expressions.get("port")),
            mongo_db=str(mongo.get("db", "flowcept")),
            expressions=expressions,
        )
    if has_lmdb:
        lmdb_path = override("LMDB_PATH", lmdb.get("path", "flowcept_lmdb"))
        enabled = _is_true(override("LMDB_ENABLED", str(lmdb.get("enabled", False))))
        out = replace(out, lmdb_enabled=enabled, lmdb_path=str(lmdb_path))
    return out

"""Configuration lookup: ``HEADWATER_<NAME>`` variables, then project and profile files, then defaults.

Order (first found wins): the environment variable ``HEADWATER_<NAME>``; ``.headwater/config.json`` found
upwards from the working directory; ``~/.headwater/config.json`` (or ``config_<profile>.json`` when
``HEADWATER_PROFILE`` is set); the built-in default. Keys in the files are lower case (``datastore_root``).
The defaults are embedded and local, so nothing needs to be configured to run on one machine.

A key in a file that no one reads gives one warning naming the file and the nearest known key; a bad
value names where it was set (the variable, or the file and key), so the user knows what to edit.
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from typing import Any

from headwater.exceptions import ConfigError

#: Name of the directory that holds the local datastore and the project configuration.
HEADWATER_DIR = ".headwater"

DEFAULTS: dict[str, Any] = {
    "datastore": "local",
    "datastore_root": None,
    "environment": None,
    "max_workers": None,
    "max_num_splits": 100,
    "max_log_size_mb": 10,
    "max_include_file_mb": 1024,
    "user": None,
    # Where S3(run=self) keeps a run's data: s3://bucket/prefix (default: <S3 datastore root>/data).
    "datatools_s3root": None,
}

#: Keys the configuration files may hold; a plugin that reads keys of its own adds them with ``add_keys``.
KNOWN_KEYS: set[str] = set(DEFAULTS)

_file_cache: dict[str, dict[str, Any]] = {}


def add_keys(*names: str) -> None:
    """Declare configuration keys read by a plugin, so that files holding them get no warning."""
    KNOWN_KEYS.update(names)


def _warn_unknown_keys(path: str, data: dict[str, Any]) -> None:
    """One warning per unknown key of a configuration file: it would be ignored."""
    for key in sorted(set(data) - KNOWN_KEYS):
        close = difflib.get_close_matches(str(key), sorted(KNOWN_KEYS), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(KNOWN_KEYS))}."
        sys.stderr.write(f"headwater: warning: {path}: unknown configuration key {key!r} is ignored; {hint}\n")


def _read_json(path: str, config_file: bool = False) -> dict[str, Any]:
    """The object in a JSON file ({} when there is none), read once per process."""
    if path in _file_cache:
        return _file_cache[path]
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        data = {}
    except (OSError, ValueError) as e:
        raise ConfigError(f"Configuration file {path} cannot be read: {e}", "Fix the JSON or remove the file.") from e
    if not isinstance(data, dict):
        raise ConfigError(f"Configuration file {path} must hold a JSON object.", "Fix or remove the file.")
    if config_file:
        _warn_unknown_keys(path, data)
    _file_cache[path] = data
    return data


def profile_home() -> str:
    """Where profiles live: ``HEADWATER_HOME``, else ``~/.headwater``."""
    return os.environ.get("HEADWATER_HOME") or os.path.join(os.path.expanduser("~"), HEADWATER_DIR)


def find_upwards(start: str, name: str = HEADWATER_DIR) -> str | None:
    """The nearest ``name`` directory in ``start`` or one of its parents, or None.

    The profile home (``~/.headwater``) is skipped: it holds profiles, not a project's datastore.
    """
    path = os.path.abspath(start)
    home = os.path.abspath(profile_home())
    while True:
        candidate = os.path.join(path, name)
        if os.path.isdir(candidate) and candidate != home:
            return candidate
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def _config_files(cwd: str | None = None) -> list[str]:
    files = []
    project = find_upwards(cwd or os.getcwd())
    if project:
        files.append(os.path.join(project, "config.json"))
    profile = os.environ.get("HEADWATER_PROFILE")
    home = profile_home()
    files.append(os.path.join(home, f"config_{profile}.json" if profile else "config.json"))
    return files


#: The datastore a client in this process reads when nothing else is configured: set inside a running
#: task (to the run's own datastore) and by ``headwater.metadata("local@/path")``.
client_datastore: tuple[str, str] | None = None


def remember_datastore(root: str) -> None:
    """Note a local datastore a run used, so a client that finds none can say where they are."""
    path = os.path.join(profile_home(), "datastores.json")
    try:
        known = [r for r in _read_json(path).get("roots", []) if r != root]
        os.makedirs(profile_home(), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump({"roots": [root, *known][:20]}, f)
        os.replace(tmp, path)
        _file_cache.pop(path, None)
    except (OSError, ConfigError):
        pass  # a read-only home only loses the hint


def known_datastores() -> list[str]:
    """Local datastores runs have used, most recent first (those that still exist)."""
    path = os.path.join(profile_home(), "datastores.json")
    try:
        roots = _read_json(path).get("roots", [])
    except ConfigError:
        return []
    return [r for r in roots if isinstance(r, str) and os.path.isdir(r)]


def lookup(name: str, default: Any = None, cwd: str | None = None) -> tuple[Any, str | None]:
    """The configured value of ``name`` (lower case) and where it was set: the variable's name, the path
    of the file that holds it, or None for a default."""
    variable = "HEADWATER_" + name.upper()
    env = os.environ.get(variable)
    if env is not None and env != "":
        return env, variable
    for path in _config_files(cwd):
        data = _read_json(path, config_file=True)
        if name in data:
            return data[name], path
    if name in DEFAULTS and DEFAULTS[name] is not None:
        return DEFAULTS[name], None
    return default, None


def get(name: str, default: Any = None, cwd: str | None = None) -> Any:
    """The configured value of ``name`` (lower case), following the documented order."""
    return lookup(name, default, cwd)[0]


def get_int(name: str, default: int | None = None, minimum: int | None = None) -> int | None:
    """The configured whole number ``name``; a ConfigError naming where it was set when it is not one, or
    is below ``minimum``."""
    value, source = lookup(name, default)
    if value is None:
        return None
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value)
    if number is not None and (minimum is None or number >= minimum):
        return number
    wanted = "a whole number" if minimum is None else f"a whole number of at least {minimum}"
    if source is None:  # a default passed by the caller
        raise ConfigError(f"The default of {name}, {value!r}, is not {wanted}.", "Report this as a bug.")
    if source.startswith("HEADWATER_"):
        raise ConfigError(
            f"The environment variable {source}={value!r} is not {wanted}.", f"Set {source} to {wanted}, or unset it."
        )
    raise ConfigError(
        f"{source}: {name} is {value!r}, which is not {wanted}.", f"Set {name!r} in {source} to {wanted}."
    )


def username() -> str:
    """Who is running: ``HEADWATER_USER``, then the usual login variables, then the OS account."""
    user = get("user")
    if user:
        return str(user)
    for var in ("USER", "USERNAME", "LOGNAME"):
        if os.environ.get(var):
            return os.environ[var]
    try:
        import getpass

        return getpass.getuser()
    except Exception:
        return "unknown"


def cpu_count() -> int:
    """CPUs this process may use (respects affinity masks, e.g. in containers)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1

"""Keel: one Python backend platform, four apps."""

import contextlib as _contextlib
import gc as _gc
import sys as _sys
import types as _types
from collections.abc import Iterator as _Iterator

__version__ = "0.1.0"

# Libraries Keel imports at start-up look for optional extras and import them whenever installed, though
# Keel never uses what they add (issue 12: start-up CPU and RSS of a serving process):
# - advanced-alchemy: numpy (JSON encoders for arrays; numpy is here only for the speech engines) and
#   pydantic (schema conversion; Keel's schemas are msgspec; pydantic is here for openai's client);
# - structlog: rich (pretty console tracebacks; the plain ones are used instead) and httpx: its command
#   line tool (click, rich, pygments), never run from a Keel process (click stays whenever the process
#   started from a click command line: `keel serve`, uvicorn's).
# Each is hidden while those load (`find_spec` answers None and `import` fails for a name set to None
# in sys.modules), so it loads on first real use, if any.
_HIDDEN_WHILE_LOADING = (
    (("numpy", "pydantic"), ("advanced_alchemy.base",)),
    (("rich", "pygments", "click"), ("structlog", "httpx")),
)


def _import_without(hidden: tuple[str, ...], modules: tuple[str, ...]) -> None:
    if all(name in _sys.modules for name in modules):
        return
    hiding = [name for name in hidden if name not in _sys.modules]
    for name in hiding:
        _sys.modules[name] = None  # type: ignore[assignment]
    try:
        for module in modules:
            __import__(module)
    finally:
        for name in hiding:
            if _sys.modules.get(name, 0) is None:
                del _sys.modules[name]


class _LoadedOnUse(_types.ModuleType):
    """Stands in for a module a library imports at its top but uses only in a rare feature: the real
    module is imported at the first attribute read (the stand-in is out of sys.modules by then)."""

    def __getattr__(self, attribute: str) -> object:
        if _sys.modules.get(self.__name__) is self:
            del _sys.modules[self.__name__]
        return getattr(__import__(self.__name__), attribute)


# Litestar imports pdb (the default debugger of `pdb_on_exception`) and PyYAML (its YAML rendering of the
# schema; Keel serves the schema as JSON) at its top: stand-ins while it loads, the real modules on first
# use, if any.
_LOADED_ON_USE = ("pdb", "yaml")


def _load_all() -> None:
    standing_in = [name for name in _LOADED_ON_USE if name not in _sys.modules]
    for name in standing_in:
        _sys.modules[name] = _LoadedOnUse(name)
    try:
        for hidden, modules in _HIDDEN_WHILE_LOADING:
            _import_without(hidden, modules)
    finally:
        for name in standing_in:
            if isinstance(_sys.modules.get(name), _LoadedOnUse):
                del _sys.modules[name]


@_contextlib.contextmanager
def long_lived() -> _Iterator[None]:
    """What is built inside lives as long as the process (imported libraries, the app's routes, mapped
    classes, signature models): the cyclic collector is off meanwhile, and what was built is moved out
    of its reach after (`gc.freeze`), so later collections skip it (issue 12: the collector walked these
    ~280,000 objects hundreds of times during a server's start-up, ~20 % of its CPU, finding ~1,500
    garbage objects, which stay). Nested uses freeze once, at the outermost."""
    collecting = _gc.isenabled()
    _gc.disable()
    try:
        yield
    finally:
        if collecting:
            _gc.freeze()
            _gc.enable()


# Seconds after an app starts at which what it built on first use (modules imported then, mappers
# configured, statements compiled and cached) is frozen like start-up's (issue 12: at 32 connections the
# full collections walking those ~55,000 objects, 15-20 ms each, every few seconds, stalled every request
# in flight: /users/me p99 22-36 ms, 20-21 ms with them frozen).
SETTLE_AFTER = (10.0, 60.0, 600.0)


def settle() -> None:
    """Collect what is garbage now, then freeze what is left out of later collections. The cycles among
    frozen objects that die later are never collected: that is why this runs a few times, early, and
    never per request."""
    _gc.collect()
    _gc.freeze()


with long_lived():  # SQLAlchemy, Litestar, advanced-alchemy, structlog, httpx
    _load_all()

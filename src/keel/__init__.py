"""Keel: one Python backend platform, four apps."""

import sys as _sys

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


for _hidden, _modules in _HIDDEN_WHILE_LOADING:
    _import_without(_hidden, _modules)

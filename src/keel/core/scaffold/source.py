"""Writing into Python source: import blocks ruff accepts, merging into existing modules, registering the
resource on the app's spec."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path
from string import Template

from keel.core.scaffold.names import DEFAULT_ROOT, Names, ScaffoldError


def _imports(lines: list[str], names: Names) -> list[str]:
    return [Template(line).substitute(app=names.app, package=names.package, cls=names.cls) for line in lines]


def _section(module: str) -> int:
    top = module.split(".")[0]
    if top == "__future__":
        return 0
    if top in sys.stdlib_module_names:
        return 1
    if top == "keel":
        return 3
    return 2


def _parse_import(line: str) -> tuple[str, list[str]]:
    """('module', [names]) for 'from m import a, b'; ('m', []) for 'import m'."""
    if line.startswith("from "):
        module, _, names = line[5:].partition(" import ")
        return module.strip(), [n.strip() for n in names.split(",")]
    return line[7:].strip(), []


def _name_key(name: str) -> tuple[int, str]:
    # ruff's isort order-by-type: CONSTANTS, Classes, then functions/variables
    if name.isupper() and len(name) > 1:
        return (0, name)
    if name[:1].isupper():
        return (1, name)
    return (2, name)


def render_imports(lines: list[str]) -> str:
    """An isort/ruff-clean import block (future, stdlib, third-party, first-party)."""
    plain: dict[int, set[str]] = {}
    froms: dict[int, dict[str, set[str]]] = {}
    for line in lines:
        module, names = _parse_import(line)
        section = _section(module)
        if names:
            froms.setdefault(section, {}).setdefault(module, set()).update(names)
        else:
            plain.setdefault(section, set()).add(module)
    blocks: list[str] = []
    for section in sorted(set(plain) | set(froms)):
        out = [f"import {m}" for m in sorted(plain.get(section, ()), key=str.lower)]
        for module in sorted(froms.get(section, {}), key=str.lower):
            names = sorted(froms[section][module], key=_name_key)
            out.append(f"from {module} import {', '.join(names)}")
        blocks.append("\n".join(out))
    return "\n\n".join(blocks)


def _new_module(doc: str, imports: list[str], body: str) -> str:
    block = render_imports(["from __future__ import annotations", *imports])
    body = body.strip()
    gap = "\n\n\n" if body.startswith(("class ", "def ", "async def ", "@")) else "\n\n"  # as isort wants
    return f'"""{doc}"""\n\n{block}{gap}{body}\n'


def _merge_module(source: str, imports: list[str], body: str) -> str:
    """Add missing imports after the module's last top-level import, and `body` at the end."""
    tree = ast.parse(source)
    have: set[tuple[str, str]] = set()
    last_import: ast.stmt | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            have.update((node.module or "", a.asname or a.name) for a in node.names)
            last_import = node
        elif isinstance(node, ast.Import):
            have.update((a.name, a.asname or a.name) for a in node.names)
            last_import = node
    missing: list[str] = []
    for line in imports:
        module, names = _parse_import(line)
        if names:
            new = [n for n in names if (module, n) not in have]
            if new:
                missing.append(f"from {module} import {', '.join(new)}")
        elif (module, module) not in have:
            missing.append(line)
    lines = source.splitlines()
    if missing:
        at = last_import.end_lineno if last_import is not None and last_import.end_lineno else 0
        lines[at:at] = missing
    text = "\n".join(lines).rstrip()
    return f"{text}\n\n{body.rstrip()}\n"


def _defined_names(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def register_in_plugin(source: str, names: Names) -> str:
    """Add `<var>.controller()` to `spec = AppSpec(route_handlers=...)` and import it."""
    tree = ast.parse(source)
    call = None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "spec" for t in node.targets)
            and isinstance(node.value, ast.Call)
        ):
            call = node.value
    keyword = next((k for k in call.keywords if k.arg == "route_handlers"), None) if call else None
    if keyword is None:
        raise ScaffoldError("plugin.py has no `spec = AppSpec(..., route_handlers=...)` for the routes")
    value = keyword.value
    lines = source.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))

    def pos(lineno: int, col: int) -> int:
        return offsets[lineno - 1] + len(lines[lineno - 1].encode()[:col].decode())

    entry = f"{names.var}.controller()"
    start, end = pos(value.lineno, value.col_offset), pos(value.end_lineno or 0, value.end_col_offset or 0)
    if isinstance(value, ast.List) and value.elts:
        last = value.elts[-1]
        after = pos(last.end_lineno or 0, last.end_col_offset or 0)
        if (last.end_lineno or 0) > value.lineno:  # one element per line: add a line
            indent = re.match(r"\s*", lines[last.lineno - 1]).group(0)  # type: ignore[union-attr]
            rest = source[after:end]
            if rest.lstrip().startswith(","):
                after += rest.index(",") + 1
                text = f"\n{indent}{entry},"
            else:
                text = f",\n{indent}{entry},"
            source = source[:after] + text + source[after:]
        else:
            source = source[:after] + f", {entry}" + source[after:]
    elif isinstance(value, ast.List):
        source = source[:start] + f"[{entry}]" + source[end:]
    else:
        source = source[:start] + f"[*{source[start:end]}, {entry}]" + source[end:]
    source = _merge_module(source, [f"from {names.package}.routes import {names.var}"], "")
    return source.rstrip() + "\n"


def _ruff_fix_imports(paths: list[Path], root: Path) -> None:
    """Sort imports of files we merged into (when ruff is installed); new files are rendered sorted."""
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists() or not paths:
        return
    config = next((c for c in (root / "pyproject.toml", DEFAULT_ROOT / "pyproject.toml") if c.exists()), None)
    subprocess.run(  # noqa: S603 - our own ruff on files we just wrote
        [
            ruff,
            "check",
            "--quiet",
            "--fix",
            "--select",
            "I",
            "--exit-zero",
            *(["--config", str(config)] if config else []),
            *map(str, paths),
        ],
        check=False,
        capture_output=True,
        cwd=root,
    )

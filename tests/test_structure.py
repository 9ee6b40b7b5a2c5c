"""The layering and habits docs/architecture.md states, checked on the source so they stay true: core knows
no app and no identity, apps reach core and identity's public face only and never each other, modules stay
small enough to hold in one's head, and a missing row reads the same everywhere ("X not found")."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "keel"
MAX_LINES = 450  # "about 400": a module past this is split into a package that re-exports
APPS = sorted(p.name for p in (SRC / "apps").iterdir() if (p / "plugin.py").exists())


def imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
    return found


def modules(under: Path) -> list[Path]:
    return sorted(under.rglob("*.py"))


def test_core_imports_no_app_and_no_identity() -> None:
    offending = [
        (str(path.relative_to(SRC)), name)
        for path in modules(SRC / "core")
        for name in imports(path)
        if name == "keel.app" or name.startswith(("keel.apps", "keel.identity"))
    ]
    assert offending == []


def test_apps_reach_core_and_identitys_public_face_only() -> None:
    assert APPS == ["gym", "market", "scribe", "segmint"]
    offending = []
    for app in APPS:
        for path in modules(SRC / "apps" / app):
            for name in imports(path):
                if not name.startswith("keel") or name.startswith(("keel.core", f"keel.apps.{app}")):
                    continue
                if name in ("keel.identity", "keel.settings", "keel.apps"):
                    continue
                offending.append((str(path.relative_to(SRC)), name))
    assert offending == []


def test_no_module_outgrows_its_concept() -> None:
    long = {
        str(path.relative_to(SRC)): n
        for path in modules(SRC)
        if "migrations" not in path.parts
        and (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}


def test_a_missing_row_reads_the_same_everywhere() -> None:
    message = re.compile(r'NotFound\(\s*"([^"]*)"')
    odd = [
        (str(path.relative_to(SRC)), text)
        for path in modules(SRC)
        for text in message.findall(path.read_text(encoding="utf-8"))
        if text.startswith("No such")
        or (" not found" not in text and not text.startswith(("This ", "No ", "The ", "Nothing ")))
    ]
    assert odd == []

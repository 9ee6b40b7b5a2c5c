"""What the project ships: every third-party package the code imports is declared in pyproject.toml (numpy
arrived only through matplotlib once), and the Docker build context holds what the Dockerfile copies,
not the venv, the git history or local data (it was 747 MB)."""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def imported_top_level_modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], path)
    return {
        m: p for m, p in found.items() if m not in sys.stdlib_module_names and m not in ("keel", "__future__")
    }


def declared_distributions() -> set[str]:
    """The project's dependencies and optional extras, with what their declared extras bring
    (`psycopg[pool]`: psycopg-pool)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared: set[str] = set()
    # the optional extras count too (`otel`: imported only when its setting asks for it)
    optional = [r for group in project.get("optional-dependencies", {}).values() for r in group]
    for requirement in [*project["dependencies"], *optional]:
        match = _NAME.match(requirement)
        assert match, requirement
        name, extras = match.group(1), match.group(2)
        declared.add(normalize(name))
        for extra in (extras or "").split(","):
            if not extra.strip():
                continue
            for sub in importlib.metadata.requires(name) or []:
                if re.search(rf"extra\s*==\s*['\"]{re.escape(extra.strip())}['\"]", sub):
                    sub_match = _NAME.match(sub)
                    assert sub_match, sub
                    declared.add(normalize(sub_match.group(1)))
    return declared


def test_every_imported_package_is_declared() -> None:
    owners = importlib.metadata.packages_distributions()
    declared = declared_distributions()
    undeclared = {}
    for module, path in imported_top_level_modules(ROOT / "src" / "keel").items():
        distributions = owners.get(module)
        assert distributions, f"{module} (imported in {path.relative_to(ROOT)}) is not installed"
        if not {normalize(d) for d in distributions} & declared:
            undeclared[module] = str(path.relative_to(ROOT))
    assert undeclared == {}, f"imported but not in [project].dependencies: {undeclared}"
    assert "numpy" in declared  # scribe imports it directly


# --- .dockerignore, read the way Docker reads it -------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Docker's matching (Go's filepath.Match plus `**`): `*` and `?` stay within a path segment, `**`
    spans any number of them, a pattern also matches everything below a directory it matches."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(rf"^{out}(?:/.*)?$")


def docker_context(root: Path) -> tuple[list[str], int]:
    rules: list[tuple[bool, re.Pattern[str]]] = []
    exceptions: list[str] = []
    for raw in (root / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
        rules.append((negate, _pattern_regex(pattern)))
        if negate:
            exceptions.append(pattern)

    def excluded(rel: str) -> bool:
        verdict = False
        for negate, regex in rules:
            if regex.match(rel):
                verdict = not negate  # the last matching line wins
        return verdict

    files: list[str] = []
    size = 0
    for directory, dirs, names in os.walk(root):
        base = Path(directory).relative_to(root)
        # an excluded folder is skipped unless an exception could bring back something inside it
        dirs[:] = [
            d
            for d in dirs
            if not excluded(rel := (base / d).as_posix().removeprefix("./"))
            or any(p.startswith(f"{rel}/") or "**" in p for p in exceptions)
        ]
        for name in names:
            rel = (base / name).as_posix().removeprefix("./")
            if not excluded(rel):
                files.append(rel)
                size += (Path(directory) / name).lstat().st_size
    return files, size


def test_dockerignore_keeps_the_build_context_to_what_the_image_needs() -> None:
    files, size = docker_context(ROOT)
    included = set(files)
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (ROOT / "Dockerfile").read_text(), re.M)
    sources = [source for line in copied for source in line.split()]
    for source in sources:  # everything the Dockerfile copies is in the context
        assert source in included or any(f.startswith(f"{source}/") for f in files), source
    assert any(f.startswith("src/keel/") and f.endswith(".py") for f in files)
    for folder in (".git/", ".venv/", "var/", "tests/", "benchmarks/", "docs/"):
        assert not [f for f in files if f.startswith(folder)], folder
    assert not {".git", ".env"} & included
    assert not [f for f in files if "__pycache__" in f]
    assert size < 20 * 1024 * 1024, f"{size / 1e6:.1f} MB"  # the sources: a few MB, not the venv


def test_dockerignore_reader_follows_docker_rules(tmp_path: Path) -> None:
    (tmp_path / ".dockerignore").write_text("# comment\n*.log\n!keep.log\nbuild\n**/cache\n")
    for rel in ("a.log", "keep.log", "build/x.txt", "src/cache/y", "src/z.py", "deep/er/cache/w"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    files, _ = docker_context(tmp_path)
    assert sorted(files) == [".dockerignore", "keep.log", "src/z.py"]

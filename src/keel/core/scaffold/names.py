"""What a resource is called in every file: its class, table, path, plural and variable names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

DEFAULT_ROOT = Path(__file__).resolve().parents[4]
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]*$")
_APP = re.compile(r"^[a-z][a-z0-9_]*$")


class ScaffoldError(ValueError):
    pass


@dataclass(frozen=True)
class Names:
    app: str
    package: str  # the app's import package, e.g. <apps package>.gym
    snake: str  # workout_note
    cls: str  # WorkoutNote
    plural: str  # workout_notes
    path: str  # /workout-notes
    table: str  # gym_workout_note
    var: str  # workout_notes_resource
    human: str  # workout note

    @classmethod
    def make(cls, name: str, app: str, apps_package: str) -> Names:
        if not _NAME.match(name):
            raise ScaffoldError(f"Resource name {name!r}: letters, digits, - and _, starting with a letter")
        if not _APP.match(app):
            raise ScaffoldError(f"App name {app!r}: lower-case letters, digits and _, starting with a letter")
        spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
        snake = re.sub(r"[-_]+", "_", spaced).strip("_").lower()
        if not snake.isidentifier() or snake in {"resource", "route_handlers", "spec"}:
            raise ScaffoldError(f"Resource name {name!r} does not make a usable identifier")
        plural = _plural(snake)
        return cls(
            app=app,
            package=f"{apps_package}.{app}",
            snake=snake,
            cls="".join(part.capitalize() for part in snake.split("_")),
            plural=plural,
            path="/" + plural.replace("_", "-"),
            table=f"{app}_{snake}",
            var=f"{plural}_resource",
            human=snake.replace("_", " "),
        )


def _plural(word: str) -> str:
    if re.search(r"[^aeiou]y$", word):
        return word[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", word):
        return word + "es"
    return word + "s"

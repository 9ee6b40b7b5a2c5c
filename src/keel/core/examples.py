"""Examples of request bodies, declared on the struct and shown in the OpenAPI document.

    @example({"email": "ada@example.com", "password": "correct horse battery staple"})
    class AccountCreate(msgspec.Struct): ...

The example is decoded into the struct when the class is defined, so one that no longer matches its
struct (a renamed or tightened field) fails at import, in every test run, instead of misleading readers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

T = TypeVar("T", bound=type)

_ATTRIBUTE = "__keel_example__"


def example(value: dict[str, Any]) -> Callable[[T], T]:
    def attach(cls: T) -> T:
        try:
            msgspec.convert(value, cls)
        except msgspec.ValidationError as exc:
            raise TypeError(f"the example of {cls.__qualname__} does not decode: {exc}") from exc
        setattr(cls, _ATTRIBUTE, value)
        return cls

    return attach


def example_of(cls: Any) -> dict[str, Any] | None:
    """The example declared on `cls` itself (a subclass does not inherit its parent's)."""
    value = vars(cls).get(_ATTRIBUTE) if isinstance(cls, type) else None
    return value if isinstance(value, dict) else None

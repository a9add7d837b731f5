"""Building one value from another that names the same fields: a request shape into a use case's
command, a domain value into a response. The fields whose names differ, or whose values need a
conversion, are given explicitly.

The target is a dataclass or a pydantic model; the source is any object, read by attribute.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


def field_names(target: type) -> list[str]:
    """The names a dataclass or a pydantic model is built with, in their order."""
    if dataclasses.is_dataclass(target):
        return [f.name for f in dataclasses.fields(target) if f.init]
    model_fields = getattr(target, "model_fields", None)
    if isinstance(model_fields, dict):
        return list(model_fields)
    raise TypeError(f"{target.__name__} is neither a dataclass nor a pydantic model")


def same_named(target: type, source: object) -> dict[str, Any]:
    """The values of ``source`` for every field of ``target`` it has an attribute of that name for."""
    return {name: getattr(source, name) for name in field_names(target) if hasattr(source, name)}


def build(target: type[T], source: object, **given: Any) -> T:
    """``target`` from the same-named attributes of ``source``; ``given`` adds or overrides fields."""
    factory: Any = target
    result: T = factory(**{**same_named(target, source), **given})
    return result

"""The operations, one module per area, found by name: every module of this package
is an area. A module defines

- ``OPERATIONS``: a tuple of :class:`~authapi.openapi.operation.Operation`;
- optionally ``TAGS`` (tag objects for tags no other area declares), ``COMPONENTS``
  (marshmallow schemas, as :data:`authapi.openapi.components.COMPONENTS`) and
  ``SCHEMAS`` (plain JSON Schemas, as :data:`authapi.openapi.components.SCHEMAS`).

The document lists operations in the order of their tags, then of the modules (by
name), then of each ``OPERATIONS`` tuple.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from marshmallow import Schema

from authapi.openapi.operation import Operation


@dataclass
class Areas:
    """What every area module declares, merged."""

    operations: list[Operation] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    components: dict[str, tuple[type[Schema], dict[str, Any]]] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)


def area_modules() -> list[ModuleType]:
    return [
        importlib.import_module(f"{__name__}.{info.name}")
        for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name)
    ]


def collect() -> Areas:
    areas = Areas()
    for module in area_modules():
        areas.operations.extend(module.OPERATIONS)
        areas.tags.extend(getattr(module, "TAGS", ()))
        _merge(areas.components, getattr(module, "COMPONENTS", {}), module)
        _merge(areas.schemas, getattr(module, "SCHEMAS", {}), module)
    return areas


def _merge(into: dict[str, Any], new: dict[str, Any], module: ModuleType) -> None:
    clash = into.keys() & new.keys()
    if clash:
        raise ValueError(f"{module.__name__} redefines {sorted(clash)}")
    into.update(new)

"""Validate returned objects with Stripe's schema checker from ../shared/stripe/check.py."""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

CHECK_PY = Path(__file__).resolve().parents[3] / "shared" / "stripe" / "check.py"


@cache
def _check_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stripe_check", CHECK_PY)
    assert spec is not None and spec.loader is not None, f"cannot load {CHECK_PY}"
    module = importlib.util.module_from_spec(spec)
    sys.modules["stripe_check"] = module
    spec.loader.exec_module(module)
    return module


def assert_valid(obj: Any, schema: str | None = None, expand: list[str] | None = None) -> None:
    """Fail with every error check.py finds in `obj` (a StripeObject or a dict)."""
    data = obj.to_dict() if hasattr(obj, "to_dict") else obj
    name = schema or data["object"]
    if data.get("deleted") is True and schema is None:
        name = f"deleted_{data['object']}"
    report = _check_module().check(name, data, expand=expand or [])
    assert not report.errors, "\n".join(str(issue) for issue in report.errors)


def check_stripe_object(obj: Any, expand: list[str]) -> None:
    """Stripe's schema check; an event's `data.object` is checked as the object it holds."""
    assert_valid(obj, expand=expand)
    if obj.object == "event":
        assert_valid(obj.data.object)


def _checking(method: Any) -> Any:
    def wrapper(self: Any, call: Any, *args: Any) -> Any:
        result = method(self, call, *args)
        if result.object == "list":
            paths = [p.removeprefix("data.") for p in call.expand if p.startswith("data.")]
            for item in result.data:
                check_stripe_object(item, paths)
        else:
            check_stripe_object(result, call.expand)
        return result

    return wrapper


def validate_every_response(monkeypatch: Any) -> None:
    """Make every service call check what it returns (object, every list item) with check.py."""
    from ledger.services.base import Service

    for name in ("_execute", "_read", "_list"):
        monkeypatch.setattr(Service, name, _checking(getattr(Service, name)))

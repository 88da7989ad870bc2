"""Request-parameter validation derived from Stripe's OpenAPI spec, with Stripe-shaped errors.

`validate_params("POST /v1/customers", params)` checks `params` against the schema the spec
gives for that operation (generated into `ledger/_spec/params.json` by
`tools/gen_param_schemas.py`) and returns a cleaned copy. Every rejection is an
`InvalidRequestError` (HTTP 400) whose `param` names the offending parameter in Stripe's bracket
notation: `address[line1]`, `items[0][price]`, `metadata[foo]`.

Two input modes:

* Python kwargs (`from_form=False`): values must already have the schema's type. `bool` is not an
  integer, an `int` is not a string. A `None` value for an object key is treated as "not passed"
  (stripe-python drops `None` params before sending).
* Form/query-decoded data (`from_form=True`): leaves are strings and are coerced: integers from
  `-?[0-9]+`, booleans from `true`/`false` (also `True`/`False`, stripe-python's spelling,
  which Stripe accepts), numbers from `-?[0-9]+(.[0-9]+)?`.

In both modes arrays may be given as lists/tuples or as mappings with index keys (`{"0": ..,
"1": ..}`, as `a[0]=x&a[1]=y` decodes); they come back as lists in index order.

Empty strings. Stripe reads `""` as an attempt to unset a parameter. `""` is returned as-is (the
caller unsets) where the spec allows it: an `anyOf` branch `{"enum": [""], "type": "string"}`,
an enum containing `""`, or an optional plain (non-enum) string such as `description` or a
`metadata[key]` value. Everywhere else, including any required parameter, it is rejected with
`parameter_invalid_empty`.

Checks run in this order at each object level: unknown keys, then missing required keys (in the
spec's order), then each value in the caller's key order. The first failure is raised, so the
error for a given input is deterministic.

Messages and codes (`{param}` is the bracket-notation name, `{value}` the offending value):

* `Received unknown parameter: {param}` -- code `parameter_unknown`
* `Missing required param: {param}.` -- code `parameter_missing`
* `You passed an empty string for '{param}'. We assume empty values are an attempt to unset a
  parameter; however '{param}' cannot be unset. You should remove '{param}' from your request or
  supply a non-empty value.` -- code `parameter_invalid_empty`
* `Invalid integer: {value}` -- code `parameter_invalid_integer`
* `Invalid boolean: {value}` -- no code
* `Invalid decimal: {value}` (type number; strings with format decimal) -- no code
* `Invalid {param}: must be one of a, b, or c` ("a or b" for two values) -- no code
* `Invalid string: {value}; must be at most {n} characters` -- no code
* `Invalid string: {value}` (a non-string where a string is expected) -- no code
* `Invalid object`, `Invalid array` -- no code
* `Invalid file` (a multipart upload that is not str/bytes/readable) -- no code

Seen in real Stripe responses: the unknown, missing and integer messages (integer with its
code), `Invalid boolean: True` with no code, the two-value enum form (`Invalid customer_creation:
must be one of if_required or always`), and the long-string form, which shows the first 10 and
last 10 characters around "..." (`Invalid string: Lottery Re...iting line; must be at most 40
characters`). Chosen here, not confirmed: the three-or-more enum form ("a, b, or c"); showing
values of 20 characters or fewer whole; no code on the long-string, decimal, object, array and
file errors; the "Invalid decimal" and "Invalid file" wording; integers limited to signed 64 bits
(outside that: `Invalid integer`). In other messages, `{value}` is the string as given,
`true`/`false` for booleans, `null` for None, compact JSON for mappings and lists, and is cut to
200 characters. Enum values are listed in the spec's order, without `""`.

`x-stripeBypassValidation` (the spec's marker for enums Stripe does not enforce strictly) is
dropped by the generator, so those enums are enforced as documented.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Final

from ledger.errors import InvalidRequestError

__all__ = ["operations", "path_params", "validate_params"]

_INT_RE: Final = re.compile(r"-?[0-9]+")
_DECIMAL_RE: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_SHOW_MAX: Final = 200
_MISSING: Final = object()


# --- errors ------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, int | float):
        text = repr(value)
    elif isinstance(value, Mapping | list | tuple):
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=repr)
    else:
        text = repr(value)
    if len(text) > _SHOW_MAX:
        text = text[: _SHOW_MAX - 3] + "..."
    return text


def _error(message: str, param: str, code: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(message, code=code, param=param, http_status=400)


def _unknown(param: str) -> InvalidRequestError:
    return _error(f"Received unknown parameter: {param}", param, "parameter_unknown")


def _missing(param: str) -> InvalidRequestError:
    return _error(f"Missing required param: {param}.", param, "parameter_missing")


def _empty(param: str) -> InvalidRequestError:
    return _error(
        f"You passed an empty string for '{param}'. We assume empty values are an attempt to "
        f"unset a parameter; however '{param}' cannot be unset. You should remove '{param}' "
        "from your request or supply a non-empty value.",
        param,
        "parameter_invalid_empty",
    )


def _one_of(values: tuple[str, ...]) -> str:
    if len(values) <= 1:
        return "".join(values)
    if len(values) == 2:
        return f"{values[0]} or {values[1]}"
    return ", ".join(values[:-1]) + ", or " + values[-1]


def _join(param: str, key: str) -> str:
    return f"{param}[{key}]" if param else key


# --- compiled schema nodes ---------------------------------------------------------------------


class _Node:
    """One compiled schema. `check` returns the cleaned value or raises InvalidRequestError."""

    __slots__ = ("allows_empty",)

    def __init__(self) -> None:
        # Whether "" is accepted as "unset" for this schema when the param is optional.
        self.allows_empty = False

    def check(self, value: Any, param: str, form: bool) -> Any:
        raise NotImplementedError

    def fits(self, value: Any, form: bool) -> bool:
        """Whether `value` has this schema's shape (used to pick an anyOf branch)."""
        raise NotImplementedError

    def native(self, value: Any) -> bool:
        """Whether `value` already has this schema's Python type (no form coercion needed)."""
        return self.fits(value, False)


def _child(node: _Node, value: Any, param: str, required: bool, form: bool) -> Any:
    if value.__class__ is str and not value:
        if node.allows_empty and not required:
            return value
        raise _empty(param)
    return node.check(value, param, form)


class _Any(_Node):
    __slots__ = ()

    def __init__(self) -> None:
        super().__init__()
        self.allows_empty = True

    def check(self, value: Any, param: str, form: bool) -> Any:
        return value

    def fits(self, value: Any, form: bool) -> bool:
        return True


class _String(_Node):
    __slots__ = ("decimal", "enum", "enum_set", "max_length")

    def __init__(self, enum: tuple[str, ...] | None, max_length: int | None, decimal: bool) -> None:
        super().__init__()
        self.enum = tuple(v for v in enum if v) if enum is not None else None
        self.enum_set = frozenset(enum) if enum is not None else None
        self.max_length = max_length
        self.decimal = decimal
        self.allows_empty = enum is None or "" in enum

    def check(self, value: Any, param: str, form: bool) -> Any:
        if not isinstance(value, str):
            raise _error(f"Invalid string: {_show(value)}", param)
        if self.enum_set is not None and value not in self.enum_set:
            assert self.enum is not None
            raise _error(f"Invalid {param}: must be one of {_one_of(self.enum)}", param)
        if self.max_length is not None and len(value) > self.max_length:
            shown = value if len(value) <= 20 else f"{value[:10]}...{value[-10:]}"
            raise _error(
                f"Invalid string: {shown}; must be at most {self.max_length} characters", param
            )
        if self.decimal and value and _DECIMAL_RE.fullmatch(value) is None:
            raise _error(f"Invalid decimal: {_show(value)}", param)
        return value

    def fits(self, value: Any, form: bool) -> bool:
        return isinstance(value, str)


class _Binary(_Node):
    """A multipart file upload (`format: binary`)."""

    __slots__ = ()

    def check(self, value: Any, param: str, form: bool) -> Any:
        if isinstance(value, str | bytes | bytearray | memoryview) or hasattr(value, "read"):
            return value
        raise _error("Invalid file", param)

    def fits(self, value: Any, form: bool) -> bool:
        return isinstance(value, str | bytes | bytearray | memoryview) or hasattr(value, "read")


class _Integer(_Node):
    __slots__ = ()

    def check(self, value: Any, param: str, form: bool) -> Any:
        if (isinstance(value, int) and not isinstance(value, bool)) or (
            form and isinstance(value, str) and _INT_RE.fullmatch(value) is not None
        ):
            number = int(value)
        else:
            raise _error(f"Invalid integer: {_show(value)}", param, "parameter_invalid_integer")
        if not _INT64_MIN <= number <= _INT64_MAX:
            raise _error(f"Invalid integer: {_show(value)}", param, "parameter_invalid_integer")
        return number

    def fits(self, value: Any, form: bool) -> bool:
        if isinstance(value, int):
            return not isinstance(value, bool)
        return form and isinstance(value, str)


class _Number(_Node):
    __slots__ = ()

    def check(self, value: Any, param: str, form: bool) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, int) or math.isfinite(value):
                return value
        elif form and isinstance(value, str) and _DECIMAL_RE.fullmatch(value) is not None:
            return float(value)  # not money: spec "number" params (percentages, rates)
        raise _error(f"Invalid decimal: {_show(value)}", param)

    def fits(self, value: Any, form: bool) -> bool:
        if isinstance(value, int | float):
            return not isinstance(value, bool)
        return form and isinstance(value, str)


class _Boolean(_Node):
    __slots__ = ()

    def check(self, value: Any, param: str, form: bool) -> Any:
        if isinstance(value, bool):
            return value
        if form and isinstance(value, str):
            # stripe-python sends Python's spelling (`True`), which Stripe's v1 API accepts.
            if value in ("true", "True"):
                return True
            if value in ("false", "False"):
                return False
        raise _error(f"Invalid boolean: {_show(value)}", param)

    def fits(self, value: Any, form: bool) -> bool:
        return isinstance(value, bool) or (form and isinstance(value, str))


class _Object(_Node):
    __slots__ = ("additional", "properties", "required", "required_set")

    def __init__(
        self,
        properties: dict[str, _Node],
        required: tuple[str, ...],
        additional: _Node | None,
    ) -> None:
        super().__init__()
        self.properties = properties
        self.required = required
        self.required_set = frozenset(required)
        self.additional = additional

    def check(self, value: Any, param: str, form: bool) -> Any:
        if not isinstance(value, Mapping):
            raise _error("Invalid object", param or "params")
        properties = self.properties
        additional = self.additional
        if additional is None:
            for key in value:
                if key not in properties:
                    raise _unknown(_join(param, str(key)))
        for name in self.required:
            if value.get(name) is None:
                raise _missing(_join(param, name))
        required = self.required_set
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            node = properties.get(key, additional)
            if node is None:  # a non-str key equal to no property; already reported above
                raise _unknown(_join(param, str(key)))
            name = key if isinstance(key, str) else str(key)
            out[name] = _child(node, item, _join(param, name), key in required, form)
        return out

    def fits(self, value: Any, form: bool) -> bool:
        return isinstance(value, Mapping)


class _Array(_Node):
    __slots__ = ("items",)

    def __init__(self, items: _Node) -> None:
        super().__init__()
        self.items = items

    def check(self, value: Any, param: str, form: bool) -> Any:
        if isinstance(value, list | tuple):
            elements: list[Any] | tuple[Any, ...] = value
        elif isinstance(value, Mapping):
            elements = _indexed(value, param)
        else:
            raise _error("Invalid array", param)
        node = self.items
        return [
            _child(node, element, f"{param}[{index}]", False, form)
            for index, element in enumerate(elements)
        ]

    def fits(self, value: Any, form: bool) -> bool:
        return isinstance(value, list | tuple | Mapping)

    def native(self, value: Any) -> bool:
        return isinstance(value, list | tuple)


def _indexed(value: Mapping[Any, Any], param: str) -> list[Any]:
    """`{"0": a, "1": b}` (or int keys) → `[a, b]`, in index order."""
    by_index: dict[int, Any] = {}
    for key, element in value.items():
        if isinstance(key, int) and not isinstance(key, bool) and key >= 0:
            index = key
        elif isinstance(key, str) and key.isascii() and key.isdigit():
            index = int(key)
        else:
            raise _error("Invalid array", param)
        if index in by_index:
            raise _error("Invalid array", param)
        by_index[index] = element
    return [by_index[index] for index in sorted(by_index)]


class _AnyOf(_Node):
    __slots__ = ("branches", "container_fallback", "scalar_fallback")

    def __init__(self, branches: list[_Node]) -> None:
        super().__init__()
        # A bare `{"enum": [""]}` branch only says "may be unset"; it never fits a real value.
        self.branches = tuple(b for b in branches if not _is_unset_marker(b))
        self.allows_empty = any(b.allows_empty for b in branches)
        # For a value that fits no branch, the error comes from the first branch of the same
        # kind (scalar or container) as the value, else from the first branch.
        first = self.branches[0] if self.branches else _Any()
        self.scalar_fallback = next((b for b in self.branches if _is_scalar(b)), first)
        self.container_fallback = next((b for b in self.branches if not _is_scalar(b)), first)

    def check(self, value: Any, param: str, form: bool) -> Any:
        best: InvalidRequestError | None = None
        best_rank = (-1, False)
        for branch in self.branches:
            if not branch.fits(value, form):
                continue
            try:
                return branch.check(value, param, form)
            except InvalidRequestError as error:
                # The branch that got furthest into the value fits best; on a tie prefer one
                # whose Python type matches without coercion, then the spec's order.
                rank = (len(error.param or ""), branch.native(value))
                if rank > best_rank:
                    best, best_rank = error, rank
        if best is not None:
            raise best
        if isinstance(value, Mapping | list | tuple):
            return self.container_fallback.check(value, param, form)
        return self.scalar_fallback.check(value, param, form)

    def fits(self, value: Any, form: bool) -> bool:
        return any(b.fits(value, form) for b in self.branches)

    def native(self, value: Any) -> bool:
        return any(b.native(value) for b in self.branches)


def _is_scalar(node: _Node) -> bool:
    return not isinstance(node, _Object | _Array | _AnyOf | _Any)


def _is_unset_marker(node: _Node) -> bool:
    return isinstance(node, _String) and node.enum_set == frozenset({""})


def _compile(schema: Mapping[str, Any]) -> _Node:
    if "anyOf" in schema:
        return _AnyOf([_compile(branch) for branch in schema["anyOf"]])
    kind = schema.get("type")
    if kind == "object" or (kind is None and ("properties" in schema)):
        properties = {name: _compile(sub) for name, sub in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties")
        additional: _Node | None
        if isinstance(extra, Mapping):
            additional = _compile(extra)
        elif extra is True or (extra is None and not properties):
            additional = _Any()
        else:
            additional = None
        return _Object(properties, tuple(schema.get("required", ())), additional)
    if kind == "array":
        return _Array(_compile(schema.get("items", {})))
    if kind == "string":
        if schema.get("format") == "binary":
            return _Binary()
        enum = schema.get("enum")
        return _String(
            tuple(enum) if enum is not None else None,
            schema.get("maxLength"),
            schema.get("format") == "decimal",
        )
    if kind == "integer":
        return _Integer()
    if kind == "number":
        return _Number()
    if kind == "boolean":
        return _Boolean()
    return _Any()


# --- operations --------------------------------------------------------------------------------


class _Operation:
    __slots__ = ("path_params", "root")

    def __init__(self, entry: Mapping[str, Any]) -> None:
        self.path_params: tuple[str, ...] = tuple(entry["path"])
        root = _compile(entry["schema"])
        assert isinstance(root, _Object)
        self.root = root


@cache
def _spec() -> dict[str, Any]:
    text = resources.files("ledger._spec").joinpath("params.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


_compiled: dict[str, _Operation] = {}
_compile_lock = threading.Lock()


def _operation(operation: str) -> _Operation:
    compiled = _compiled.get(operation)
    if compiled is None:
        entry = _spec()[operation]  # KeyError: not an operation in the spec (our bug)
        with _compile_lock:
            compiled = _compiled.get(operation)
            if compiled is None:
                compiled = _compiled[operation] = _Operation(entry)
    return compiled


def operations() -> frozenset[str]:
    """Every operation key in the spec: `"POST /v1/customers"`, `"GET /v1/customers"`, ..."""
    return frozenset(_spec())


def path_params(operation: str) -> tuple[str, ...]:
    """Names of the operation's path parameters, in path order (KeyError if unknown)."""
    names = _operation(operation).path_params
    # The spec lists a few out of order (`/v1/transfers/{transfer}/reversals/{id}`: id first).
    return tuple(sorted(names, key=lambda name: operation.index(f"{{{name}}}")))


def validate_params(
    operation: str, params: Mapping[str, Any], *, from_form: bool = False
) -> dict[str, Any]:
    """Validate `params` for `operation` (e.g. `"POST /v1/customers"`) and return them cleaned.

    `params` excludes path parameters. Raises KeyError for an operation the spec does not have,
    and InvalidRequestError (400) for anything wrong with `params`; see the module docstring.
    """
    root = _operation(operation).root
    cleaned: dict[str, Any] = root.check(params, "", from_form)
    return cleaned

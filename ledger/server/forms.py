"""Stripe's form encoding: bracket notation in query strings and bodies, decoded to nested data.

`decode_form(b"metadata[k]=v&expand[]=a&items[0][price]=p")` gives
`{"metadata": {"k": "v"}, "expand": ["a"], "items": {"0": {"price": "p"}}}`. Leaves stay
strings: `validate_params(..., from_form=True)` coerces them against the operation's schema, and
turns index-keyed mappings (`items[0]`) into arrays. The rules follow Rack's, which Stripe's
API is built on:

* `a=1` sets a value, `a[b]=1` a key of an object, `a[]=1` appends to an array, and
  `a[][b]=1` sets `b` in the array's last object, or in a new one when that object has `b`;
* a repeated name keeps its last value (`a=1&a=2` gives `a=2`);
* `+` is a space and `%XX` a byte; the decoded bytes must be UTF-8.

Bad input is always an `InvalidRequestError` (400), never another exception. Chosen here, not
confirmed against Stripe: the wording of these errors; a name not in bracket notation (`a[b`,
`[a]`, `a]`, the empty name) is reported as an unknown parameter; a NUL character anywhere is
refused (PostgreSQL cannot store it in text); the bounds below.
"""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import parse_qsl

from ledger.errors import InvalidRequestError

__all__ = ["FORM_DEPTH_MAX", "FORM_FIELDS_MAX", "decode_form"]

# Fields in one query string or body (Rack's default bound is 4096; Stripe's line items, metadata
# and nested options stay far below this).
FORM_FIELDS_MAX: Final = 4096
# Brackets in one name (Rack's `param_depth_limit` is 32; Stripe's params nest at most ~6 deep).
FORM_DEPTH_MAX: Final = 32

_NAME = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_SEGMENT = re.compile(r"\[([^\[\]]*)\]")

Form = dict[str, Any]


def decode_form(data: bytes | str, into: Form | None = None) -> Form:
    """Decode a form-encoded query string or body into nested dicts, lists and strings.

    With `into`, the fields are merged into that dict (a body after its query string).
    """
    root: Form = {} if into is None else into
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _invalid("Invalid request: the parameters are not valid UTF-8.") from None
    if not data:
        return root
    try:
        pairs = parse_qsl(
            data,
            keep_blank_values=True,
            strict_parsing=False,
            encoding="utf-8",
            errors="strict",
            max_num_fields=FORM_FIELDS_MAX,
        )
    except UnicodeDecodeError:
        raise _invalid("Invalid request: the parameters are not valid UTF-8.") from None
    except ValueError:  # more than max_num_fields
        raise _invalid(
            f"Invalid request: more than {FORM_FIELDS_MAX} parameters were sent."
        ) from None
    for name, value in pairs:
        _assign(root, name, value)
    return root


def _assign(root: Form, name: str, value: str) -> None:
    if "\x00" in name or "\x00" in value:
        raise _invalid(
            f"Invalid request: the parameter '{name.replace(chr(0), '')}' contains a NUL "
            "character, which is not allowed.",
            param=name.replace("\x00", ""),
        )
    match = _NAME.fullmatch(name)
    if match is None:
        raise _unknown(name)
    segments = [match.group(1), *_SEGMENT.findall(match.group(2))]
    if len(segments) > FORM_DEPTH_MAX + 1:
        raise _invalid(
            f"Invalid request: the parameter '{name}' is nested more than {FORM_DEPTH_MAX} "
            "levels deep.",
            param=name,
        )
    node: Form | list[Any] = root
    where = segments[0]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "":
            if not isinstance(node, list):
                raise _conflict(where, node, "an array")
            if last:
                node.append(value)
                return
            rest = segments[index + 1 :]
            if rest[0] == "":
                raise _unknown(name)  # `a[][]`: Rack has no meaning for it either
            tail = node[-1] if node else None
            if not isinstance(tail, dict) or _has_path(tail, rest):
                tail = {}
                node.append(tail)
            node = tail
            where = f"{where}[]"
            continue
        if isinstance(node, list):
            raise _conflict(where, node, "an object")
        if index:
            where = f"{where}[{segment}]"
        existing = node.get(segment)
        if last:
            if isinstance(existing, dict | list):
                raise _conflict(where, existing, "a value")
            node[segment] = value
            return
        wants_array = segments[index + 1] == ""
        if existing is None:
            existing = node[segment] = [] if wants_array else {}
        elif not isinstance(existing, list if wants_array else dict):
            raise _conflict(where, existing, "an array" if wants_array else "an object")
        node = existing


def _has_path(node: Form, segments: list[str]) -> bool:
    """Whether `node` already holds the named path (Rack's test for starting a new element)."""
    current: Any = node
    for segment in segments:
        if segment == "" or not isinstance(current, dict) or segment not in current:
            return False
        current = current[segment]
    return True


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a value"


def _conflict(where: str, existing: object, wanted: str) -> InvalidRequestError:
    return _invalid(
        f"Invalid request: the parameter '{where}' is sent both as {_kind(existing)} and as "
        f"{wanted}.",
        param=where,
    )


def _unknown(name: str) -> InvalidRequestError:
    # The same error validate_params gives for a name the operation does not have.
    return InvalidRequestError(
        f"Received unknown parameter: {name}", code="parameter_unknown", param=name
    )


def _invalid(message: str, param: str | None = None) -> InvalidRequestError:
    return InvalidRequestError(message, param=param)

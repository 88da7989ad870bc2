"""Generate `ledger/_spec/params.json` from Stripe's OpenAPI spec.

Usage: python tools/gen_param_schemas.py [SPEC_PATH] [OUT_PATH]

SPEC_PATH defaults to /work/shared/stripe/spec3.json.gz (plain `.json` works too); OUT_PATH defaults
to ledger/_spec/params.json next to this repository's `ledger` package.

The output maps an operation key such as "POST /v1/customers/{customer}" to
`{"path": [path parameter names...], "schema": <simplified object schema of the request params>}`.

* POST: the form body schema (`application/x-www-form-urlencoded`, or `multipart/form-data` for
  file uploads).
* GET / DELETE: the `in: query` parameters turned into an object schema (`required` from
  `required: true`), merged with the properties of the form body schema if the spec gives one
  (Stripe's DELETE endpoints such as `DELETE /v1/subscriptions/{id}` declare their params there).

`$ref`s are resolved inline and only the keywords `ledger.params` reads are kept: type, properties,
required, additionalProperties, items, enum, maxLength, anyOf, format, nullable. Vendor
extensions (x-stripeBypassValidation, ...), descriptions and titles are dropped. The output is
deterministic (sorted keys, stable formatting).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_SPEC = Path("/work/shared/stripe/spec3.json.gz")
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "ledger" / "_spec" / "params.json"

KEEP = frozenset(
    {
        "type",
        "properties",
        "required",
        "additionalProperties",
        "items",
        "enum",
        "maxLength",
        "anyOf",
        "format",
        "nullable",
    }
)
METHODS = ("get", "post", "delete")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
SIZE_WARN_BYTES = 2 * 1024 * 1024


def load_spec(path: Path) -> dict[str, Any]:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    spec: dict[str, Any] = json.loads(raw)
    return spec


class Simplifier:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            raise ValueError(f"unsupported $ref {ref!r}")
        node: Any = self.spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def simplify(self, schema: Any, stack: tuple[str, ...] = ()) -> dict[str, Any]:
        if not isinstance(schema, dict):
            raise TypeError(f"schema is not an object: {schema!r}")
        if "$ref" in schema:
            ref = schema["$ref"]
            if ref in stack:
                raise ValueError(f"recursive $ref {ref!r} in request params")
            return self.simplify(self.resolve(ref), (*stack, ref))
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key not in KEEP:
                continue
            if key == "properties":
                out[key] = {name: self.simplify(sub, stack) for name, sub in value.items()}
            elif key == "items":
                out[key] = self.simplify(value, stack)
            elif key == "anyOf":
                out[key] = [self.simplify(branch, stack) for branch in value]
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self.simplify(value, stack)
            elif key == "required":
                if value:
                    out[key] = list(value)
            else:
                out[key] = value
        return out


def body_schema(op: dict[str, Any]) -> dict[str, Any] | None:
    content = op.get("requestBody", {}).get("content", {})
    for media_type in FORM_TYPES:
        if media_type in content:
            schema: dict[str, Any] = content[media_type]["schema"]
            return schema
    return None


def operation_entry(simplifier: Simplifier, method: str, op: dict[str, Any]) -> dict[str, Any]:
    parameters = [simplifier.simplify(p) if "$ref" in p else p for p in op.get("parameters", [])]
    path_params = [p["name"] for p in parameters if p["in"] == "path"]
    body = body_schema(op)
    if method == "post":
        schema = simplifier.simplify(body) if body is not None else {}
        schema.setdefault("type", "object")
        schema.setdefault("properties", {})
        schema.setdefault("additionalProperties", False)
    else:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in parameters:
            if param["in"] != "query":
                continue
            properties[param["name"]] = simplifier.simplify(param.get("schema", {}))
            if param.get("required"):
                required.append(param["name"])
        if body is not None:
            simple_body = simplifier.simplify(body)
            for name, sub in simple_body.get("properties", {}).items():
                if name in properties and properties[name] != sub:
                    raise ValueError(f"conflicting schemas for {name!r}")
                properties[name] = sub
            for name in simple_body.get("required", []):
                if name not in required:
                    required.append(name)
        schema = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
    return {"path": path_params, "schema": schema}


def generate(spec: dict[str, Any]) -> dict[str, Any]:
    simplifier = Simplifier(spec)
    operations: dict[str, Any] = {}
    for path, item in spec["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            operations[f"{method.upper()} {path}"] = operation_entry(simplifier, method, op)
    return operations


def render(operations: dict[str, Any]) -> str:
    # Minified (there are ~470 operations; indented output is several MB), one operation per line
    # so diffs stay readable.
    lines = [
        json.dumps(key) + ":" + json.dumps(operations[key], sort_keys=True, separators=(",", ":"))
        for key in sorted(operations)
    ]
    return "{\n" + ",\n".join(lines) + "\n}\n"


def main(argv: list[str]) -> int:
    spec_path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SPEC
    out_path = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    spec = load_spec(spec_path)
    operations = generate(spec)
    text = render(operations)
    json.loads(text)  # sanity: valid JSON
    out_path.parent.mkdir(parents=True, exist_ok=True)
    init = out_path.parent / "__init__.py"
    if not init.exists():
        init.write_text("")
    out_path.write_text(text, encoding="utf-8")
    size = len(text.encode("utf-8"))
    print(
        f"wrote {out_path} ({len(operations)} operations, {size} bytes)"
        f" from {spec_path} (API version {spec.get('info', {}).get('version')})"
    )
    if size > SIZE_WARN_BYTES:
        print(f"warning: {out_path} is over {SIZE_WARN_BYTES} bytes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

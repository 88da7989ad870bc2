"""Write ledger/_spec/expandable.json: for each Stripe object, the dotted paths `expand[]` accepts.

Read from Stripe's OpenAPI spec (`x-expansionResources` on a property). Paths go through plain
nested sub-objects (`invoice_settings.default_payment_method`); lists are walked at run time
through their `data`, so they are not listed here.

    python tools/gen_expandable.py [path/to/spec3.json.gz]
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = ROOT.parent / "shared" / "stripe" / "spec3.json.gz"
OUT = ROOT / "ledger" / "_spec" / "expandable.json"
REF = "#/components/schemas/"
DEPTH_MAX = 4


def _object_name(schema: dict[str, Any]) -> str | None:
    enum = schema.get("properties", {}).get("object", {}).get("enum")
    return enum[0] if enum and len(enum) == 1 else None


def _paths(
    schemas: dict[str, Any], schema: dict[str, Any], prefix: str, depth: int, seen: frozenset[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, prop in sorted(schema.get("properties", {}).items()):
        path = f"{prefix}{name}"
        resources = prop.get("x-expansionResources")
        if resources:
            found[path] = sorted(ref["$ref"].removeprefix(REF) for ref in resources["oneOf"])
            continue
        if depth >= DEPTH_MAX:
            continue
        # Descend into a plain nested object (possibly nullable via anyOf).
        refs = [prop.get("$ref")] + [alt.get("$ref") for alt in prop.get("anyOf", [])]
        for ref in filter(None, refs):
            target = ref.removeprefix(REF)
            sub = schemas[target]
            if target in seen or _object_name(sub) is not None:
                continue
            found |= _paths(schemas, sub, path + ".", depth + 1, seen | {target})
    return found


def main() -> None:
    spec_path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SPEC
    with gzip.open(spec_path) as spec_file:
        spec = json.loads(spec_file.read())
    schemas = spec["components"]["schemas"]
    table: dict[str, dict[str, list[str]]] = {}
    for key, schema in schemas.items():
        name = _object_name(schema)
        if name is None or name in table:
            continue
        paths = _paths(schemas, schema, "", 1, frozenset({key}))
        if paths:
            table[name] = paths
    OUT.write_text(json.dumps(table, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(table)} objects, {OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

"""Turn CustomResourceDefinition YAML files into JSON Schemas (draft 7) for check-jsonschema.

    python deploy/k8s/schemas/crd_to_jsonschema.py OUT_DIR CRD.yaml...

Writes ``<kind>-<group>-<version>.json`` (lower case, dots as dashes) for every served version.
The OpenAPI v3 schema of a CRD is close to JSON Schema; the differences handled here:
``nullable`` becomes a ``null`` type, ``x-kubernetes-int-or-string`` becomes integer-or-string,
and objects that declare their properties are closed (``additionalProperties: false``) unless they
preserve unknown fields, so that a misspelt field fails validation instead of being pruned
silently by the API server. ``apiVersion`` and ``kind`` are pinned to the resource's own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml


def convert(node: Any) -> Any:
    if isinstance(node, list):
        return [convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-") and k != "nullable"}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def schemas(crd: dict[str, Any]) -> dict[str, dict[str, Any]]:
    spec = crd["spec"]
    group, kind = spec["group"], spec["names"]["kind"]
    found = {}
    for version in spec["versions"]:
        if not version.get("served", True):
            continue
        schema = convert(version["schema"]["openAPIV3Schema"])
        schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
        schema["properties"]["kind"] = {"const": kind}
        schema["required"] = sorted({*schema.get("required", []), "apiVersion", "kind", "metadata", "spec"})
        schema = {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": f"{kind} ({group}/{version['name']})",
            "description": f"Generated from the {crd['metadata']['name']} CustomResourceDefinition",
            **schema,
        }
        found[f"{kind}-{group}-{version['name']}".lower().replace(".", "-") + ".json"] = schema
    return found


def main(argv: list[str]) -> None:
    out_dir = Path(argv[0])
    for path in argv[1:]:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if doc and doc.get("kind") == "CustomResourceDefinition":
                for name, schema in schemas(doc).items():
                    (out_dir / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
                    print(f"wrote {out_dir / name}")


if __name__ == "__main__":
    main(sys.argv[1:])

# SPDX-License-Identifier: BSD-2-Clause
"""audit_jsonschema - a validator for the part of JSON Schema (2020-12) that
postern-audit's record schema uses, in the Python standard library.

    from audit_jsonschema import load_schema, validate, validate_lines
    schema = load_schema()                    # milters/audit/audit-record.schema.json
    errors = validate(record, schema)         # [] when valid, else "path: why" strings
    validate_lines(text_or_lines, schema)     # raises AssertionError naming line and path

Keywords understood: type, properties, required, additionalProperties,
items, enum, const, pattern, minimum, maximum, minItems, minProperties,
allOf, anyOf, not, if/then/else, $ref (to #/... in the same document);
annotations ($schema, $id, $defs, title, description, format) are ignored.
Any other keyword is an error, so the schema cannot quietly use a feature
this validator would skip.
"""
import json
import os
import re

TOP = os.environ.get("POSTERN_TOP") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
SCHEMA_PATH = os.path.join(TOP, "milters", "audit", "audit-record.schema.json")

ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "format"}
KEYWORDS = {"type", "properties", "required", "additionalProperties", "items", "enum",
            "const", "pattern", "minimum", "maximum", "minItems", "maxItems", "minProperties", "allOf",
            "anyOf", "not", "if", "then", "else", "$ref"} | ANNOTATIONS


def load_schema(path=SCHEMA_PATH):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _type_ok(value, t):
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    raise ValueError(f"unknown type {t!r}")


def _equal(a, b):
    # JSON equality: True is not 1
    return type(a) is type(b) and a == b if isinstance(a, bool) or isinstance(b, bool) else a == b


def _resolve(root, ref):
    if not ref.startswith("#/"):
        raise ValueError(f"only local $ref is supported: {ref}")
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validate(value, schema, root=None, path="$"):
    """Errors of value against schema, as a list of 'path: why' strings."""
    root = root if root is not None else schema
    if schema is True:
        return []
    if schema is False:
        return [f"{path}: not allowed"]
    unknown = set(schema) - KEYWORDS
    if unknown:
        raise ValueError(f"schema at {path} uses unsupported keywords {sorted(unknown)}")
    errs = []
    if "$ref" in schema:
        errs += validate(value, _resolve(root, schema["$ref"]), root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_ok(value, t) for t in types):
            return errs + [f"{path}: {value!r:.60} is not of type {schema['type']}"]
    if "const" in schema and not _equal(value, schema["const"]):
        errs.append(f"{path}: {value!r:.60} is not {schema['const']!r}")
    if "enum" in schema and not any(_equal(value, e) for e in schema["enum"]):
        errs.append(f"{path}: {value!r:.60} is not one of {schema['enum']}")
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        errs.append(f"{path}: {value!r:.60} does not match {schema['pattern']}")
    if _type_ok(value, "number"):
        if "minimum" in schema and value < schema["minimum"]:
            errs.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errs.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, dict):
        for name in schema.get("required", []):
            if name not in value:
                errs.append(f"{path}: required member {name!r} missing")
        if "minProperties" in schema and len(value) < schema["minProperties"]:
            errs.append(f"{path}: fewer than {schema['minProperties']} members")
        props = schema.get("properties", {})
        for name, v in value.items():
            if name in props:
                errs += validate(v, props[name], root, f"{path}.{name}")
            elif "additionalProperties" in schema:
                errs += validate(v, schema["additionalProperties"], root, f"{path}.{name}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errs.append(f"{path}: fewer than {schema['minItems']} items")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errs.append(f"{path}: more than {schema['maxItems']} items")
        if "items" in schema:
            for i, v in enumerate(value):
                errs += validate(v, schema["items"], root, f"{path}[{i}]")
    for sub in schema.get("allOf", []):
        errs += validate(value, sub, root, path)
    if "anyOf" in schema and not any(not validate(value, s, root, path) for s in schema["anyOf"]):
        errs.append(f"{path}: matches none of anyOf")
    if "not" in schema and not validate(value, schema["not"], root, path):
        errs.append(f"{path}: matches a schema it must not match")
    if "if" in schema:
        if not validate(value, schema["if"], root, path):
            errs += validate(value, schema.get("then", True), root, path)
        else:
            errs += validate(value, schema.get("else", True), root, path)
    return errs


def validate_lines(lines, schema=None, where="trail"):
    """Validate every JSON line; raise AssertionError naming the first bad one.
    Returns the parsed records."""
    schema = schema or load_schema()
    if isinstance(lines, (str, bytes)):
        lines = lines.splitlines()
    records = []
    for n, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            line = line.decode("utf-8")  # records must be UTF-8: this raises if not
        if not line.strip():
            continue
        rec = json.loads(line)
        errs = validate(rec, schema)
        if errs:
            raise AssertionError(f"{where}:{n}: record does not match the schema: "
                                 + "; ".join(errs[:5]) + f"\n{line[:300]}")
        records.append(rec)
    return records

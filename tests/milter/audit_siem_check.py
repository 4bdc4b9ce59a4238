# SPDX-License-Identifier: BSD-2-Clause
"""audit_siem_check - validate postern-audit's SIEM events against the reference schemas.

The reference definitions live outside the project, in $POSTERN_TOP/../shared/siem
(present in CI): OCSF's schema sources (events, objects, profiles, dictionary.json)
and ECS's generated ecs_flat.yml. reference() returns None when they are absent, so
a test can skip instead of pass.

    ref = reference()
    table = fields_table(run_fields_tool_output)
    problems = check_table(table, ref) + check_ecs(event, table, ref) + ...

Every check returns a list of problems (strings); an empty list means valid.
"""
import ipaddress
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("POSTERN_TOP", os.path.join(HERE, "..", ".."))
SIEM = os.path.join(TOP, "..", "shared", "siem")

CIM_REQUIRED = ["action", "dest", "internal_message_id", "message_id", "protocol", "recipient",
                "recipient_count", "return_addr", "src", "src_user", "user"]
CIM_ACTIONS = {"delivered", "blocked", "quarantined", "deleted"}

# the event classes the mapping uses, by class_uid
OCSF_CLASSES = {4009: "network/email_activity", 4001: "network/network_activity",
                0: "base_event"}


# ---- loading the references ----------------------------------------------

def load_ecs_flat(path):
    """ecs_flat.yml -> {field: {"type", "required", "allowed", "array"}}, read line by
    line: the file is flat (one top-level key per field), so no YAML library is needed."""
    fields, cur, in_allowed, in_normalize = {}, None, False, False
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r"^'?([^\s':][^':]*)'?:$", line)
            if m:
                cur = fields.setdefault(m.group(1), {"type": None, "required": False,
                                                     "allowed": [], "array": False})
                in_allowed = in_normalize = False
                continue
            if cur is None:
                continue
            if re.match(r"^  [a-z_]+:", line):
                in_allowed = line.startswith("  allowed_values:")
                in_normalize = line.startswith("  normalize:")
                m = re.match(r"^  type: (\S+)$", line)
                if m:
                    cur["type"] = m.group(1)
                if line == "  required: true":
                    cur["required"] = True
                continue
            if in_allowed:
                m = re.match(r"^    name: (\S+)$", line)
                if m:
                    cur["allowed"].append(m.group(1))
            if in_normalize and line.strip() == "- array":
                cur["array"] = True
    return fields


class Ocsf:
    """OCSF schema sources: classes and objects with their inheritance resolved."""

    def __init__(self, root):
        self.root = root
        with open(os.path.join(root, "dictionary.json")) as f:
            d = json.load(f)
        self.dict = d["attributes"]
        self.types = d["types"]["attributes"]
        self._objects = {}
        self._classes = {}

    def _json(self, rel):
        with open(os.path.join(self.root, rel)) as f:
            return json.load(f)

    def _attrs(self, doc):
        out = {}
        for inc in doc.get("attributes", {}).get("$include", []):
            # a profile's attributes may be used; its requirements bind only an
            # event that declares the profile (metadata.profiles), which ours do not
            out.update({k: {**v, "profile": inc} for k, v in
                        self._json(inc).get("attributes", {}).items() if k != "$include"})
        for k, v in doc.get("attributes", {}).items():
            if k != "$include":
                out[k] = {**out.get(k, {}), **(v or {})}
        return out

    def _merge(self, parent, doc):
        attrs = dict(parent)
        for k, v in self._attrs(doc).items():
            attrs[k] = {**attrs.get(k, {}), **v}
        return attrs

    def object(self, name):
        if name not in self._objects:
            doc = self._json(os.path.join("objects", name + ".json"))
            parent = self.object(doc["extends"]) if doc.get("extends") else {}
            self._objects[name] = self._merge(parent, doc)
        return self._objects[name]

    def event_class(self, rel):
        if rel not in self._classes:
            doc = self._json(os.path.join("events", rel + ".json"))
            ext = doc.get("extends")
            if ext:
                parent_rel = ext if ext == "base_event" else os.path.join(
                    os.path.dirname(rel), ext)
                parent = self.event_class(parent_rel)
            else:
                parent = {}
            self._classes[rel] = self._merge(parent, doc)
        return self._classes[rel]

    def class_uid(self, rel):
        doc = self._json(os.path.join("events", rel + ".json"))
        if rel == "base_event":
            return 0
        cats = self._json("categories.json")["attributes"]
        category, parent = doc.get("category"), doc
        while category is None and parent.get("extends"):
            parent = self._json(os.path.join("events", os.path.dirname(rel),
                                             parent["extends"] + ".json"))
            category = parent.get("category")
        return cats[category]["uid"] * 1000 + doc["uid"]

    def attr_type(self, attrs, name):
        """(type, is_array) of an attribute in an attribute set."""
        a = {**self.dict.get(name, {}), **attrs.get(name, {})}
        return a.get("type"), bool(a.get("is_array"))

    def base_type(self, t):
        """the primitive type of a dictionary type (email_t -> string_t), None for objects"""
        while t in self.types and self.types[t].get("type"):
            t = self.types[t]["type"]
        return t if t in self.types else None


def reference():
    """The reference schemas, or None when $POSTERN_TOP/../shared/siem is absent."""
    ecs = os.path.join(SIEM, "ecs", "generated", "ecs", "ecs_flat.yml")
    ocsf = os.path.join(SIEM, "ocsf-schema")
    if not (os.path.isfile(ecs) and os.path.isdir(ocsf)):
        return None
    return {"ecs": load_ecs_flat(ecs), "ocsf": Ocsf(ocsf)}


def fields_table(text):
    """`postern-audit fields` output -> {format: {name: (type, requirement)}}"""
    table = {"ecs": {}, "ocsf": {}, "cim": {}}
    for line in text.splitlines():
        fmt, name, typ, req = line.split("\t")
        table[fmt][name] = (typ, req)
    return table


# ---- the project's table against the references ---------------------------

def _ocsf_lookup(ocsf, path):
    """[(type, is_array, requirement)] of a dotted attribute path in each class that has it."""
    found = []
    for rel in OCSF_CLASSES.values():
        attrs = ocsf.event_class(rel)
        t = arr = req = None
        ok = True
        for i, part in enumerate(path.split(".")):
            if part not in attrs:
                ok = False
                break
            t, arr = ocsf.attr_type(attrs, part)
            req = attrs[part].get("requirement")
            if i < len(path.split(".")) - 1:
                if ocsf.base_type(t) is not None or t is None:
                    ok = False
                    break
                attrs = ocsf.object(t)
        if ok:
            found.append((t, arr, req))
    return found


def check_table(table, ref):
    problems = []
    ecs, ocsf = ref["ecs"], ref["ocsf"]
    for name, (typ, req) in table["ecs"].items():
        if name == "postern":
            if name in ecs or any(k.startswith("postern.") for k in ecs):
                problems.append("ecs: postern is an ECS field set: pick another namespace")
            continue
        if name not in ecs:
            problems.append(f"ecs: {name} is not an ECS field")
            continue
        if ecs[name]["type"] != typ:
            problems.append(f"ecs: {name} is {ecs[name]['type']} in ECS, table says {typ}")
        want = "required" if ecs[name]["required"] else "optional"
        if req != want:
            problems.append(f"ecs: {name} is {want} in ECS, table says {req}")
    for name, (typ, req) in table["ocsf"].items():
        found = _ocsf_lookup(ocsf, name)
        if not found:
            problems.append(f"ocsf: {name} is in none of the classes used")
            continue
        for t, _arr, r in found:
            if t != typ:
                problems.append(f"ocsf: {name} has type {t} in OCSF, table says {typ}")
            if (r or "optional") != req:
                problems.append(f"ocsf: {name} is {r} in OCSF, table says {req}")
    cim_req = {n for n, (_t, r) in table["cim"].items() if r == "required"}
    if cim_req != set(CIM_REQUIRED):
        problems.append(f"cim: table's required fields {sorted(cim_req)} are not the data "
                        f"model's {CIM_REQUIRED}")
    return problems


# ---- events ---------------------------------------------------------------

def _flatten(obj, prefix=""):
    """(dotted path, value) of every leaf and of every object/array on the way; array
    items share their array's path."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            p = f"{prefix}.{k}" if prefix else k
            out.append((p, v))
            if isinstance(v, dict):
                out += _flatten(v, p)
            elif isinstance(v, list):
                for it in v:
                    if isinstance(it, dict):
                        out += _flatten(it, p)
    return out


def _ecs_value_ok(typ, v):
    if isinstance(v, list):
        return all(_ecs_value_ok(typ, x) for x in v)
    if typ in ("keyword", "wildcard", "constant_keyword", "match_only_text"):
        return isinstance(v, str)
    if typ in ("long", "integer"):
        return isinstance(v, int) and not isinstance(v, bool)
    if typ == "boolean":
        return isinstance(v, bool)
    if typ == "date":
        return isinstance(v, str) and re.match(
            r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$", v)
    if typ == "ip":
        try:
            ipaddress.ip_address(v)
            return True
        except (ValueError, TypeError):
            return False
    if typ in ("object", "nested", "flattened"):
        return isinstance(v, dict)
    return False


def check_ecs(event, table, ref):
    problems = []
    ecs = ref["ecs"] if ref else None
    for path, v in _flatten(event):
        if path == "postern" or path.startswith("postern."):
            continue
        if ecs is not None:
            if path not in ecs:
                # an intermediate object (email.from) is not a field of its own
                if isinstance(v, dict) and any(k.startswith(path + ".") for k in ecs):
                    continue
                problems.append(f"{path}: not an ECS field")
                continue
            f = ecs[path]
            if isinstance(v, list) and f["type"] != "nested" and not f["array"]:
                problems.append(f"{path}: ECS does not expect an array")
            if not _ecs_value_ok(f["type"], v if f["type"] != "nested" else {}):
                problems.append(f"{path}: {v!r} is not of ECS type {f['type']}")
            if f["allowed"]:
                for x in (v if isinstance(v, list) else [v]):
                    if x not in f["allowed"]:
                        problems.append(f"{path}: {x!r} is not an allowed value")
        if not isinstance(v, dict) and path not in table["ecs"]:
            problems.append(f"{path}: not in the project's field table")
    if ecs is not None:
        for name, f in ecs.items():
            if f["required"] and _get(event, name) is None:
                problems.append(f"{name}: required by ECS, missing")
    return problems


def _get(obj, path):
    for part in path.split("."):
        if not isinstance(obj, dict) or part not in obj:
            # ECS names like "@timestamp" have no dots; others nest
            return None
        obj = obj[part]
    return obj


def _ocsf_value_ok(ocsf, typ, v):
    base = ocsf.base_type(typ)
    if base is None:
        return isinstance(v, dict)
    if base == "string_t":
        if not isinstance(v, str):
            return False
        t = ocsf.types.get(typ, {})
        if t.get("regex") and not re.search(t["regex"], v):
            return False
        if t.get("max_len") and len(v) > t["max_len"]:
            return False
        return True
    if base in ("integer_t", "long_t"):
        if isinstance(v, bool) or not isinstance(v, int):
            return False
        rng = ocsf.types.get(typ, {}).get("range")
        return not rng or rng[0] <= v <= rng[1]
    if base == "boolean_t":
        return isinstance(v, bool)
    if base == "float_t":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    if base == "json_t":
        return True
    return False


def _ocsf_object(ocsf, attrs, obj, where, problems, top=False):
    for name, a in attrs.items():
        if a.get("requirement") == "required" and name not in obj and "profile" not in a:
            problems.append(f"{where}{name}: required, missing")
    for name, v in obj.items():
        if top and name == "unmapped":
            if not isinstance(v, dict):
                problems.append("unmapped: not an object")
            continue
        if name not in attrs:
            problems.append(f"{where}{name}: not an attribute of {where or 'the class'}")
            continue
        typ, arr = ocsf.attr_type(attrs, name)
        items = v if arr else [v]
        if arr and not isinstance(v, list):
            problems.append(f"{where}{name}: should be an array")
            continue
        if not arr and isinstance(v, list):
            problems.append(f"{where}{name}: should not be an array")
            continue
        for it in items:
            if not _ocsf_value_ok(ocsf, typ, it):
                problems.append(f"{where}{name}: {it!r} is not of type {typ}")
            elif ocsf.base_type(typ) is None:
                _ocsf_object(ocsf, ocsf.object(typ), it, f"{where}{name}.", problems)
        # a class's enum adds to the dictionary's (0 Unknown, 99 Other)
        enum = {**(ocsf.dict.get(name, {}).get("enum") or {}),
                **(attrs[name].get("enum") or {})}
        if enum and not arr and str(v) not in enum and name.endswith("_id"):
            problems.append(f"{where}{name}: {v!r} is not one of {sorted(enum)}")


def check_ocsf(event, table, ref):
    problems = []
    if ref is not None:
        ocsf = ref["ocsf"]
        uid = event.get("class_uid")
        if uid not in OCSF_CLASSES:
            return [f"class_uid {uid!r} is not a class the mapping uses"]
        rel = OCSF_CLASSES[uid]
        if ocsf.class_uid(rel) != uid:
            problems.append(f"class_uid {uid} is not {rel}'s uid {ocsf.class_uid(rel)}")
        if event.get("type_uid") != uid * 100 + event.get("activity_id", -1):
            problems.append("type_uid is not class_uid * 100 + activity_id")
        _ocsf_object(ocsf, ocsf.event_class(rel), event, "", problems, top=True)
    for path, v in _flatten(event):
        if path == "unmapped" or path.startswith("unmapped."):
            continue
        if path not in table["ocsf"]:
            problems.append(f"{path}: not in the project's field table")
    return problems


def check_cim(event, table):
    problems = []
    for name in CIM_REQUIRED:
        v = event.get(name)
        if v is None or v == "" or v == []:
            problems.append(f"{name}: required, empty")
    if event.get("action") not in CIM_ACTIONS:
        problems.append(f"action: {event.get('action')!r} not one of {sorted(CIM_ACTIONS)}")
    for name, v in event.items():
        if name not in table["cim"]:
            problems.append(f"{name}: not in the project's field table")
            continue
        typ = table["cim"][name][0]
        for x in (v if isinstance(v, list) else [v]):
            ok = {"string": isinstance(x, str),
                  "number": isinstance(x, (int, float)) and not isinstance(x, bool),
                  "boolean": isinstance(x, bool)}[typ]
            if not ok:
                problems.append(f"{name}: {x!r} is not a {typ}")
        if isinstance(v, (dict,)):
            problems.append(f"{name}: CIM fields are flat")
    return problems

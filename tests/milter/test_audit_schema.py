#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""The JSON Schema shipped with postern-audit (milters/audit/
audit-record.schema.json) against records: every record of the sample
trail (which holds every golden record of the record builder: encoded
words, groups, duplicates, attachments, invalid UTF-8, 8-bit headers,
aborted and connection events, privacy options, GeoIP), and every JSON
Lines export reference file. The protocol and end-to-end tests validate
the records they produce the same way. A few broken records prove the
validator can say no."""
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from tap import test, main, check_eq  # noqa: E402
from audit_jsonschema import load_schema, validate, validate_lines  # noqa: E402

DATA = os.path.join(HERE, "..", "unit", "data", "audit")
SCHEMA = load_schema()


def sample():
    with open(os.path.join(DATA, "trail-sample.jsonl"), "rb") as f:
        return validate_lines(f.read().splitlines(), SCHEMA, "trail-sample.jsonl")


@test
def schema_is_versioned_and_uses_only_checked_keywords():
    check_eq(SCHEMA["properties"]["schema"], {"description": "version of this schema",
                                              "const": 1}, "schema member")
    validate({}, SCHEMA)   # raises on a keyword the validator does not implement


@test
def every_golden_record_matches_the_schema():
    recs = sample()
    check_eq(len(recs), 12, "records in the sample trail")
    check_eq({r["event"] for r in recs}, {"message", "aborted", "connection"}, "events")


@test
def every_jsonl_export_reference_matches_the_schema():
    n = 0
    for path in sorted(glob.glob(os.path.join(DATA, "export-*.ref"))):
        with open(path, "rb") as f:
            text = f.read()
        if text.startswith(b"{"):
            n += len(validate_lines(text.splitlines(), SCHEMA, path))
        elif text.startswith(b"["):
            for rec in json.loads(text):
                errs = validate(rec, SCHEMA)
                assert not errs, (path, errs)
                n += 1
    assert n > 20, n


def golden(name):
    with open(os.path.join(DATA, name + ".json"), "rb") as f:
        return json.loads(f.read())


@test
def mime_tree_of_the_golden_records_matches_the_schema():
    rec = dict(golden("attachments"), schema=1, seq=2, prev="0" * 64)
    check_eq(validate(rec, SCHEMA), [], "a record with its MIME tree")
    check_eq([p["content_type"] for p in rec["mime"]["parts"]],
             ["text/plain", "application/pdf", "application/zip", "image/png"], "parts")
    part = rec["mime"]["parts"][0]
    broken = [
        {"count": 1},                                   # no parts
        {"count": 1, "parts": [dict(part, colour="blue")]},
        {"count": 1, "parts": [dict(part, disposition="sideways")]},
        {"count": 1, "parts": [dict(part, raw_size=-1)]},
        {"count": 1, "parts": [{k: v for k, v in part.items() if k != "size"}]},
        {"count": 101, "parts": [part] * 101},          # the record lists at most 100
        {"count": 1, "parts": [part], "truncated": False},
    ]
    for mime in broken:
        assert validate(dict(rec, mime=mime), SCHEMA), f"mime={mime!r:.100} was accepted"
    aborted = dict(rec, event="aborted")
    for k in ("sha256", "attachments"):
        del aborted[k]
    assert validate(aborted, SCHEMA), "an aborted record with a MIME tree was accepted"


@test
def broken_records_are_refused():
    base = sample()[0]
    broken = [
        ("event", "delivered"), ("seq", 0), ("ts", "2024-05-01 12:00:00"),
        ("prev", "abc"), ("sha256", None), ("client", {"ip": "192.0.2.1", "port": 0}),
        ("tls", {"version": "TLSv1.3"}), ("colour", "blue"),
        ("headers", {"from": [{"address": "x@y"}]}),
    ]
    for key, value in broken:
        rec = dict(base)
        if value is None:
            del rec[key]
        else:
            rec[key] = value
        assert validate(rec, SCHEMA), f"{key}={value!r} was accepted"


if __name__ == "__main__":
    main()

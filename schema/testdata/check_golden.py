#!/usr/bin/python3
"""Decode covacdc's golden events with Apache Avro's own Python library.

An implementation independent of covacdc's Go code reads every
testdata/golden_*.bin: it checks the single-object header (C3 01, then the
CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, little
endian) against the current schema and every released one
(testdata/customer_changed.v*.avsc), decodes the body with avro.io and the
schema it names, renders the datum as plain JSON the way covacdc's
Decoder.JSON documents it, and compares it with golden_*.json. It also
recomputes each eventId from its (companyId, customerId, version).

Run with Debian's interpreter and python3-avro:  /usr/bin/python3 schema/testdata/check_golden.py
Exit status 0 only when every golden event matches.
"""

import datetime
import glob
import io
import json
import os
import struct
import sys
import uuid

import avro.io
import avro.schema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_PATH = os.path.join(HERE, "..", "customer_changed.avsc")
EVENT_ID_NAMESPACE = uuid.UUID("85564125-acc1-51f5-8842-0564520ae168")
PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")


def crc64_avro(data):
    """CRC-64-AVRO (Rabin) fingerprint, as the Avro specification defines it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp & 0xFFFFFFFFFFFFFFFF)
    fp = empty
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xFF]
    return fp


def parsing_canonical_form(schema):
    # python3-avro 1.11 keeps a logical type's primitive as {"type":"long"}; the
    # specification's [PRIMITIVES] rule and Java's SchemaNormalization (whose
    # fingerprint Java's single-object decoder checks) write "long".
    pcf = schema.canonical_form
    for p in PRIMITIVES:
        pcf = pcf.replace('{"type":"%s"}' % p, '"%s"' % p)
    return pcf


def plain(schema, datum):
    """Render a decoded datum as covacdc's Decoder.JSON does: unions unwrapped,
    enums as symbols, timestamps as RFC 3339 UTC strings (6 or 3 fraction digits)."""
    if isinstance(schema, avro.schema.UnionSchema):
        if datum is None:
            return None
        branches = [s for s in schema.schemas if s.type != "null"]
        if len(branches) != 1:
            raise ValueError("only [\"null\", T] unions are expected")
        return plain(branches[0], datum)
    if isinstance(schema, avro.schema.RecordSchema):
        return {f.name: plain(f.type, datum[f.name]) for f in schema.fields}
    if isinstance(schema, avro.schema.ArraySchema):
        return [plain(schema.items, d) for d in datum]
    if isinstance(datum, datetime.datetime):
        datum = datum.astimezone(datetime.timezone.utc)
        logical = schema.get_prop("logicalType")
        if logical == "timestamp-millis":
            return datum.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (datum.microsecond // 1000)
        return datum.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return datum


def check(path, writers):
    with open(path, "rb") as f:
        data = f.read()
    schema = writers.get(data[:10])
    if schema is None:
        return "header %s names no known schema (known: %s)" % (data[:10].hex(), ", ".join(h.hex() for h in writers))
    body = io.BytesIO(data[10:])
    datum = avro.io.DatumReader(schema).read(avro.io.BinaryDecoder(body))
    if body.tell() != len(data) - 10:
        return "%d bytes left after the body" % (len(data) - 10 - body.tell())
    got = plain(schema, datum)
    with open(path[: -len(".bin")] + ".json", encoding="utf-8") as f:
        want = json.load(f)
    if got != want:
        return "decodes to\n%s\nwant\n%s" % (json.dumps(got, ensure_ascii=False, sort_keys=True),
                                             json.dumps(want, ensure_ascii=False, sort_keys=True))
    name = "%d/%s/%d" % (got["companyId"], got["customerId"].lower(), got["version"])
    if got["eventId"] != str(uuid.uuid5(EVENT_ID_NAMESPACE, name)):
        return "eventId %s is not the UUIDv5 of %r" % (got["eventId"], name)
    return None


def main():
    # The writer schemas a golden event may name: the current one and every
    # released one, by the single-object header of their fingerprint.
    writers = {}
    for schema_path in [SCHEMA_PATH] + sorted(glob.glob(os.path.join(HERE, "customer_changed.v*.avsc"))):
        with open(schema_path, encoding="utf-8") as f:
            schema = avro.schema.parse(f.read())
        fp = crc64_avro(parsing_canonical_form(schema).encode("utf-8"))
        writers.setdefault(b"\xc3\x01" + struct.pack("<Q", fp), schema)
    paths = sorted(glob.glob(os.path.join(HERE, "golden_*.bin")))
    passed = failed = 0
    for path in paths:
        try:
            problem = check(path, writers)
        except Exception as e:  # a decode error is a failure of this file, not of the run
            problem = "%s: %s" % (type(e).__name__, e)
        if problem:
            failed += 1
            print("FAIL %s: %s" % (os.path.basename(path), problem))
        else:
            passed += 1
            print("ok   %s" % os.path.basename(path))
    if not paths:
        print("no golden events found in %s" % HERE)
        failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Independent check of covacdc's events topic, for the fault suite.

Reads the events topic with librdkafka (Debian's python3-confluent-kafka), never with
covacdc's own code, using isolation.level=read_committed from the beginning of every
partition to its end (the last stable offset), and compares it with the expected truth:
a JSON object {customerId: finalVersion}.

Each record's key is the customer id and its covacdc-version header the customer Version.
It checks that
  - every customer's final version is on the topic (missing),
  - no (customer, version) appears twice (duplicates),
  - versions rise per key in offset order (regressions),
  - no customer outside the truth and no version above its final one appears (unexpected),
  - every record has a key and a decimal covacdc-version header (malformed).
It prints one summary line, e.g.
  customers 3 (expected 3), events 7, duplicates 0, regressions 0, missing 0, unexpected 0, malformed 0
then a few examples of each violation, and with --json a JSON summary as the last line.
Exit status: 0 when nothing is violated, 1 on any violation, 2 when the topic cannot be read.

Usage: check_events.py --brokers 127.0.0.1:19092 --topic covacdc.customers --truth truth.json
Run it with Debian's interpreter (/usr/bin/python3), where python3-confluent-kafka lives.
"""

import argparse
import json
import sys
import time
import uuid

VERSION_HEADER = "covacdc-version"
COMPANY_HEADER = "covacdc-company-id"
EXAMPLES = 5


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--brokers", required=True, help="bootstrap servers, host:port[,host:port]")
    p.add_argument("--topic", required=True, help="events topic")
    p.add_argument("--truth", required=True, help="JSON file {customerId: finalVersion}")
    p.add_argument("--company-id", help="only records whose covacdc-company-id header is this")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to reach the end (default 120)")
    p.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    return p.parse_args(argv)


def load_truth(path):
    with open(path, encoding="utf-8") as f:
        raw = json.load(f)
    if not isinstance(raw, dict):
        raise ValueError("truth must be a JSON object {customerId: finalVersion}")
    return {str(k): int(v) for k, v in raw.items()}


def header(headers, name):
    for k, v in headers or []:
        if k == name:
            return v
    return None


def read_topic(brokers, topic, timeout):
    """Returns the committed records of topic as (partition, offset, key, headers), per partition in offset order."""
    from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition, OFFSET_BEGINNING

    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": "covacdc-check-" + uuid.uuid4().hex,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    })
    try:
        md = consumer.list_topics(topic, timeout=30)
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None or not tmd.partitions:
            raise KafkaException("topic %s: %s" % (topic, tmd.error if tmd is not None else "not found"))
        parts = sorted(tmd.partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        # With read_committed, librdkafka reports end-of-partition at the last stable offset:
        # everything committed before this read started, and nothing of an open transaction.
        pending = set(parts)
        records = []
        deadline = time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError("partitions %s did not reach their end within %.0fs" % (sorted(pending), timeout))
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            err = msg.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    pending.discard(msg.partition())
                    continue
                raise KafkaException(err)
            records.append((msg.partition(), msg.offset(), msg.key(), msg.headers()))
        return parts, records
    finally:
        consumer.close()


def check(records, truth, company_id=None):
    """Checks records (in per-partition offset order) against truth; returns the summary dict."""
    seen = {}       # customer -> set of versions
    last = {}       # customer -> last version, in offset order
    violations = {"duplicates": [], "regressions": [], "missing": [], "unexpected": [], "malformed": []}
    events = 0
    for part, off, key, headers in records:
        if company_id is not None:
            c = header(headers, COMPANY_HEADER)
            if c is None or c.decode("utf-8", "replace") != str(company_id):
                continue
        events += 1
        where = "partition %d offset %d" % (part, off)
        raw = header(headers, VERSION_HEADER)
        if key is None or raw is None:
            violations["malformed"].append("%s: key %r, %s %r" % (where, key, VERSION_HEADER, raw))
            continue
        try:
            cust = key.decode("utf-8")
            version = int(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            violations["malformed"].append("%s: key %r, %s %r" % (where, key, VERSION_HEADER, raw))
            continue
        versions = seen.setdefault(cust, set())
        if version in versions:
            violations["duplicates"].append("%s: customer %s version %d again" % (where, cust, version))
        elif cust in last and version < last[cust]:
            violations["regressions"].append("%s: customer %s version %d after %d" % (where, cust, version, last[cust]))
        versions.add(version)
        last[cust] = max(version, last.get(cust, version))
        final = truth.get(cust)
        if final is None:
            violations["unexpected"].append("%s: customer %s is not in the truth" % (where, cust))
        elif version > final:
            violations["unexpected"].append("%s: customer %s version %d above its final %d" % (where, cust, version, final))
    for cust, final in sorted(truth.items()):
        if final not in seen.get(cust, ()):
            have = max(seen[cust]) if cust in seen else None
            violations["missing"].append("customer %s final version %d (highest seen %s)" % (cust, final, have))
    summary = {"customers": len(seen), "expected_customers": len(truth), "events": events}
    summary.update({k: len(v) for k, v in violations.items()})
    summary["ok"] = all(len(v) == 0 for v in violations.values())
    return summary, violations


def main(argv):
    args = parse_args(argv)
    try:
        truth = load_truth(args.truth)
    except (OSError, ValueError) as e:
        print("check_events: truth %s: %s" % (args.truth, e), file=sys.stderr)
        return 2
    try:
        parts, records = read_topic(args.brokers, args.topic, args.timeout)
    except Exception as e:  # any failure to read is "cannot tell", not a pass
        print("check_events: reading %s from %s: %s" % (args.topic, args.brokers, e), file=sys.stderr)
        return 2
    summary, violations = check(records, truth, args.company_id)
    summary["partitions"] = len(parts)
    summary["topic"] = args.topic
    print("customers %d (expected %d), events %d, duplicates %d, regressions %d, missing %d, unexpected %d, malformed %d"
          % (summary["customers"], summary["expected_customers"], summary["events"], summary["duplicates"],
             summary["regressions"], summary["missing"], summary["unexpected"], summary["malformed"]))
    for kind, items in violations.items():
        for line in items[:EXAMPLES]:
            print("  %s: %s" % (kind, line))
        if len(items) > EXAMPLES:
            print("  %s: ... and %d more" % (kind, len(items) - EXAMPLES))
    print("check_events: %s" % ("OK" if summary["ok"] else "VIOLATIONS"))
    if args.json:
        print(json.dumps(summary, sort_keys=True))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Prints every subject, version and schema a Confluent-compatible Schema Registry holds, as one stable
JSON document: subjects in name order, each with its versions in order, each version's schema string
exactly as the registry returns it. Schema ids are left out: they number schemas in the order the
registry first saw them, which depends on how registrations of different topics interleave, not on what
was registered (two versions with the same schema string share one id).

It reads the registry through Confluent's documented REST API only (GET /subjects,
/subjects/{subject}/versions, /subjects/{subject}/versions/{version}), so it reads a real registry as well
as scripts/schema-registry/test_registry.py. scripts/oracle/debezium.sh --avro writes what Debezium's
AvroConverter registered with it (Tests/IntegrationTests/Golden/*.avro-schemas.json); the Avro golden
test writes what Swallow registered with it, and compares.

    dump_registry.py URL [OUTPUT]     # OUTPUT: the file to write (standard output when missing)
"""
import json
import sys
import urllib.parse
import urllib.request


def get(base, path):
    request = urllib.request.Request(base.rstrip("/") + path,
                                     headers={"Accept": "application/vnd.schemaregistry.v1+json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.load(answer)


def dump(base):
    subjects = {}
    for subject in sorted(get(base, "/subjects")):
        quoted = urllib.parse.quote(subject, safe="")
        versions = []
        for version in sorted(get(base, f"/subjects/{quoted}/versions")):
            entry = get(base, f"/subjects/{quoted}/versions/{version}")
            versions.append({"version": entry["version"], "schema": entry["schema"]})
        subjects[subject] = versions
    return json.dumps(subjects, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    text = dump(sys.argv[1])
    if len(sys.argv) == 3:
        with open(sys.argv[2], "w", encoding="utf-8") as out:
            out.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A small Confluent-compatible Schema Registry, for tests only.

No Confluent or Apicurio registry can be installed on Swallow's build machines, so the tests (and
scripts/oracle/debezium.sh --avro, which points Debezium's AvroConverter at it) use this one. It speaks the
part of Confluent's REST API that serializers and operators use, as Confluent documents it:

  POST /subjects/{subject}/versions      register -> {"id": N} (same schema again: same id, no new version)
  POST /subjects/{subject}               lookup   -> {"subject","version","id","schema"}, 404 40401/40403
  GET  /schemas/ids/{id}                 -> {"schema": "..."} (404 40403)
  GET  /subjects                         -> ["a-value", ...]
  GET  /subjects/{subject}/versions      -> [1, 2]
  GET  /subjects/{subject}/versions/{v}  -> {"subject","version","id","schema"} (v: number or "latest")
  GET/PUT /config, /config/{subject}     -> {"compatibilityLevel": "BACKWARD"} / {"compatibility": ...}

Compatibility (NONE, BACKWARD, FORWARD, FULL and their _TRANSITIVE forms; default BACKWARD, like
Confluent's) is checked with Avro's schema resolution rules: a new version that cannot be read against
the earlier one(s) is refused with HTTP 409, error_code 409, as Confluent's registry does. Basic auth
(--user NAME:PASSWORD) answers 401 error_code 401 without it. HTTPS with --tls-cert/--tls-key, client
certificates required with --tls-client-ca. Ids are global: the same schema gets the same id under
every subject.

Test controls, not part of Confluent's API, under /_test/: POST /_test/fail {"status": 503, "count": N}
answers the next N API requests with that status; POST /_test/delay {"ms": M} delays each API answer;
GET /_test/requests lists the API requests seen ("METHOD PATH").

    test_registry.py [--port 0] [--port-file FILE] [--user u:p] [--tls-cert C --tls-key K [--tls-client-ca CA]]

Prints "listening on PORT" once it accepts connections. Stops on SIGTERM or SIGINT.
"""
import argparse
import base64
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}
PROMOTIONS = {("int", "long"), ("int", "float"), ("int", "double"), ("long", "float"), ("long", "double"),
              ("float", "double"), ("string", "bytes"), ("bytes", "string")}


class SchemaError(Exception):
    pass


def parse_schema(text):
    """The schema as nested dicts with named types resolved (records refer to one object)."""
    names = {}

    def fullname(name, space):
        if "." in name:
            return name
        return f"{space}.{name}" if space else name

    def walk(node, space):
        if isinstance(node, str):
            if node in PRIMITIVES:
                return {"type": node}
            full = fullname(node, space)
            if full in names:
                return names[full]
            if node in names:
                return names[node]
            raise SchemaError(f"unknown type {node}")
        if isinstance(node, list):
            return {"type": "union", "branches": [walk(b, space) for b in node]}
        if not isinstance(node, dict) or "type" not in node:
            raise SchemaError("not an Avro schema")
        kind = node["type"]
        if isinstance(kind, (dict, list)):
            return walk(kind, space)
        if kind in ("record", "error", "enum", "fixed"):
            name = node.get("name")
            if not name:
                raise SchemaError(f"{kind} without a name")
            if "." in name:
                space = name.rsplit(".", 1)[0]
            else:
                space = node.get("namespace", space) or None
            full = fullname(name, space)
            result = {"type": kind, "name": full}
            names[full] = result
            if kind in ("record", "error"):
                fields = []
                for f in node.get("fields", []):
                    if "name" not in f or "type" not in f:
                        raise SchemaError(f"a field of {full} has no name or type")
                    fields.append({"name": f["name"], "type": walk(f["type"], space), "has_default": "default" in f})
                result["fields"] = fields
            elif kind == "enum":
                result["symbols"] = node.get("symbols", [])
            else:
                result["size"] = node.get("size")
            return result
        if kind == "array":
            return {"type": "array", "items": walk(node["items"], space)}
        if kind == "map":
            return {"type": "map", "values": walk(node["values"], space)}
        if kind in PRIMITIVES:
            return {"type": kind}
        return walk(kind, space)

    return walk(json.loads(text), None)


def can_read(reader, writer, seen=None):
    """Whether data written with `writer` can be read with `reader` (Avro's schema resolution)."""
    seen = set() if seen is None else seen
    key = (id(reader), id(writer))
    if key in seen:
        return True
    seen.add(key)
    if writer["type"] == "union":
        return all(can_read(reader, b, seen) for b in writer["branches"])
    if reader["type"] == "union":
        return any(can_read(b, writer, seen) for b in reader["branches"])
    r, w = reader["type"], writer["type"]
    if r in PRIMITIVES or w in PRIMITIVES:
        return r == w or (w, r) in PROMOTIONS
    if r != w:
        return False
    if r in ("record", "error"):
        if reader["name"].rsplit(".", 1)[-1] != writer["name"].rsplit(".", 1)[-1]:
            return False
        written = {f["name"]: f for f in writer["fields"]}
        for f in reader["fields"]:
            if f["name"] in written:
                if not can_read(f["type"], written[f["name"]]["type"], seen):
                    return False
            elif not f["has_default"]:
                return False
        return True
    if r == "enum":
        return set(writer["symbols"]) <= set(reader["symbols"])
    if r == "fixed":
        return reader["size"] == writer["size"]
    if r == "array":
        return can_read(reader["items"], writer["items"], seen)
    if r == "map":
        return can_read(reader["values"], writer["values"], seen)
    return False


class Registry:
    def __init__(self):
        self.lock = threading.Lock()
        self.schemas = []            # id - 1 -> schema string
        self.subjects = {}           # subject -> [schema id per version]
        self.config = {}             # subject -> level
        self.global_level = "BACKWARD"
        self.fail_status = None
        self.fail_count = 0
        self.delay_ms = 0
        self.requests = []

    def id_of(self, schema):
        parsed = json.loads(schema)
        for i, existing in enumerate(self.schemas):
            if json.loads(existing) == parsed:
                return i + 1
        return None

    def compatible(self, subject, schema):
        level = self.config.get(subject, self.global_level)
        versions = self.subjects.get(subject, [])
        if level == "NONE" or not versions:
            return True, []
        new = parse_schema(schema)
        earlier = versions if level.endswith("_TRANSITIVE") else versions[-1:]
        messages = []
        for schema_id in earlier:
            old = parse_schema(self.schemas[schema_id - 1])
            base = level.replace("_TRANSITIVE", "")
            if base in ("BACKWARD", "FULL") and not can_read(new, old):
                messages.append(f"the new schema cannot read data written with schema id {schema_id} (BACKWARD)")
            if base in ("FORWARD", "FULL") and not can_read(old, new):
                messages.append(f"schema id {schema_id} cannot read data written with the new schema (FORWARD)")
        return not messages, messages


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry = None
    credentials = None

    def log_message(self, format, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, code, message):
        self.answer(status, {"error_code": code, "message": message})

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return None

    def authorized(self):
        if self.credentials is None:
            return True
        header = self.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            return base64.b64decode(header[6:]).decode() == self.credentials
        except ValueError:
            return False

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_PUT(self):
        self.dispatch("PUT")

    def dispatch(self, method):
        reg = self.registry
        path = urllib.parse.urlsplit(self.path).path
        parts = [urllib.parse.unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        if parts and parts[0] == "_test":
            return self.control(method, parts, reg)
        body = self.body() if method in ("POST", "PUT") else {}
        with reg.lock:
            reg.requests.append(f"{method} {path}")
            delay = reg.delay_ms
            failing = reg.fail_count > 0
            if failing:
                reg.fail_count -= 1
                status = reg.fail_status
        if delay:
            time.sleep(delay / 1000)
        if failing:
            return self.error(status, status * 100 + 1 if status < 1000 else status, "failing on request (test control)")
        if not self.authorized():
            return self.error(401, 401, "Unauthorized")
        if body is None:
            return self.error(400, 400, "Unrecognized request body: not JSON")
        with reg.lock:
            return self.route(method, parts, body, reg)

    def control(self, method, parts, reg):
        body = self.body() if method == "POST" else {}
        with reg.lock:
            if method == "POST" and parts[1:] == ["fail"]:
                reg.fail_status = int(body.get("status", 503))
                reg.fail_count = int(body.get("count", 1))
                return self.answer(200, {})
            if method == "POST" and parts[1:] == ["delay"]:
                reg.delay_ms = int(body.get("ms", 0))
                return self.answer(200, {})
            if method == "GET" and parts[1:] == ["requests"]:
                return self.answer(200, list(reg.requests))
        return self.error(404, 404, "unknown test control")

    def route(self, method, parts, body, reg):
        if parts == ["subjects"] and method == "GET":
            return self.answer(200, sorted(s for s, v in reg.subjects.items() if v))
        if len(parts) == 3 and parts[0] == "schemas" and parts[1] == "ids" and method == "GET":
            try:
                schema_id = int(parts[2])
            except ValueError:
                return self.error(404, 40403, "Schema not found")
            if 1 <= schema_id <= len(reg.schemas):
                return self.answer(200, {"schema": reg.schemas[schema_id - 1]})
            return self.error(404, 40403, "Schema not found")
        if parts and parts[0] == "config":
            subject = parts[1] if len(parts) > 1 else None
            if method == "GET":
                level = reg.config.get(subject, reg.global_level) if subject else reg.global_level
                return self.answer(200, {"compatibilityLevel": level})
            if method == "PUT":
                level = str(body.get("compatibility", "")).upper()
                if level not in ("NONE", "BACKWARD", "FORWARD", "FULL", "BACKWARD_TRANSITIVE",
                                 "FORWARD_TRANSITIVE", "FULL_TRANSITIVE"):
                    return self.error(422, 42203, "Invalid compatibility level")
                if subject:
                    reg.config[subject] = level
                else:
                    reg.global_level = level
                return self.answer(200, {"compatibility": level})
        if len(parts) >= 2 and parts[0] == "subjects":
            subject = parts[1]
            versions = reg.subjects.get(subject, [])
            if len(parts) == 2 and method == "POST":
                return self.lookup(subject, body, versions, reg)
            if len(parts) == 3 and parts[2] == "versions":
                if method == "GET":
                    if not versions:
                        return self.error(404, 40401, f"Subject '{subject}' not found.")
                    return self.answer(200, list(range(1, len(versions) + 1)))
                if method == "POST":
                    return self.register(subject, body, reg)
            if len(parts) == 4 and parts[2] == "versions" and method == "GET":
                if not versions:
                    return self.error(404, 40401, f"Subject '{subject}' not found.")
                try:
                    number = len(versions) if parts[3] in ("latest", "-1") else int(parts[3])
                except ValueError:
                    return self.error(422, 42202, "Invalid version")
                if not 1 <= number <= len(versions):
                    return self.error(404, 40402, "Version not found.")
                schema_id = versions[number - 1]
                return self.answer(200, {"subject": subject, "version": number, "id": schema_id,
                                         "schema": reg.schemas[schema_id - 1]})
        return self.error(404, 404, "HTTP 404 Not Found")

    def checked_schema(self, body):
        schema = body.get("schema")
        if not isinstance(schema, str):
            self.error(422, 42201, "Invalid schema: no schema string")
            return None
        if body.get("schemaType", "AVRO") != "AVRO":
            self.error(422, 42201, "Invalid schema: this test registry knows only AVRO")
            return None
        try:
            parse_schema(schema)
        except (SchemaError, ValueError, KeyError, TypeError) as e:
            self.error(422, 42201, f"Invalid schema {e}")
            return None
        return schema

    def lookup(self, subject, body, versions, reg):
        schema = self.checked_schema(body)
        if schema is None:
            return
        if not versions:
            return self.error(404, 40401, f"Subject '{subject}' not found.")
        schema_id = reg.id_of(schema)
        if schema_id is None or schema_id not in versions:
            return self.error(404, 40403, "Schema not found")
        return self.answer(200, {"subject": subject, "version": versions.index(schema_id) + 1, "id": schema_id,
                                 "schema": reg.schemas[schema_id - 1]})

    def register(self, subject, body, reg):
        schema = self.checked_schema(body)
        if schema is None:
            return
        versions = reg.subjects.setdefault(subject, [])
        schema_id = reg.id_of(schema)
        if schema_id is not None and schema_id in versions:
            return self.answer(200, {"id": schema_id})
        ok, messages = reg.compatible(subject, schema)
        if not ok:
            return self.error(409, 409, "Schema being registered is incompatible with an earlier schema for subject "
                              f"\"{subject}\", details: {messages}")
        if schema_id is None:
            reg.schemas.append(schema)
            schema_id = len(reg.schemas)
        versions.append(schema_id)
        return self.answer(200, {"id": schema_id})


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--user", help="NAME:PASSWORD for HTTP basic auth")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-client-ca")
    args = parser.parse_args()

    Handler.registry = Registry()
    Handler.credentials = args.user
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.tls_client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(f"{port}\n")
        os.replace(args.port_file + ".tmp", args.port_file)
    # A parent may have blocked these signals (the mask is inherited): take them back, and stop at once.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    print(f"listening on {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Streams a logical slot over a replication connection and prints every
CopyData payload ('w' XLogData / 'k' keepalive) as one hex line.

    capture_stream.py host port user database slot

Speaks the wire protocol directly (no driver strips the framing) and never
sends a standby status update, so the slot is not advanced. A short
wal_sender_timeout makes the server ask for a reply ('k' with flag 1) quickly;
capture stops at the first such keepalive. Trust authentication only.
"""
import socket
import struct
import sys

host, port, user, database, slot = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
sock = socket.create_connection((host, port), timeout=15)


def send(tag, body):
    sock.sendall(tag + struct.pack("!I", len(body) + 4) + body)


def recv_exact(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("server closed the connection")
        data += chunk
    return data


def recv():
    tag, length = struct.unpack("!cI", recv_exact(5))
    return tag, recv_exact(length - 4)


params = {"user": user, "database": database, "replication": "database",
          "wal_sender_timeout": "2s"}
startup = struct.pack("!I", 196608) + b"".join(
    k.encode() + b"\0" + v.encode() + b"\0" for k, v in params.items()) + b"\0"
sock.sendall(struct.pack("!I", len(startup) + 4) + startup)
while True:
    tag, body = recv()
    if tag == b"E":
        sys.exit("error: " + body.decode(errors="replace"))
    if tag == b"R" and struct.unpack("!I", body[:4])[0] != 0:
        sys.exit("only trust authentication is supported")
    if tag == b"Z":
        break

send(b"Q", f"START_REPLICATION SLOT {slot} LOGICAL 0/0 (proto_version '1', "
           f"publication_names 'pub', messages 'true')\0".encode())
while True:
    tag, body = recv()
    if tag == b"E":
        sys.exit("error: " + body.decode(errors="replace"))
    if tag != b"d":
        continue
    print(body.hex())
    if body[:1] == b"k" and body[-1] == 1:
        break
send(b"X", b"")
sock.close()

#!/usr/bin/env python3
"""Seeds for fuzz_handover: well-formed handover streams (handover.h, format 1)
with open files (with and without text), cpu tree nodes and state records."""
import os
import struct
import sys

LAYOUT = 3

def rec(rtype, payload):
    pad = (-len(payload)) % 8
    return struct.pack("<II", rtype, len(payload)) + payload + b"\0" * pad

def handle(fh, key, node, text, label=b"/lxc/c1"):
    body = struct.pack("<QQIIII", fh, key, node, 1 if text is not None else 0,
                       len(text or b""), 0) + label.ljust(40, b"\0")
    return rec(1, body + (text or b""))

def sysfs(mode, path):
    return rec(2, struct.pack("<II", mode, len(path)) + path)

def state(table, value, label=b"stat /lxc/c1"):
    return rec(3, struct.pack("<IIQQ", table, len(value), 11, 22) + label.ljust(64, b"\0") + value)

def stream(records):
    hdr = b"LXCFSHO\0" + struct.pack("<IIIIIiQ", 1, LAYOUT, 4, 1, 38, 0, len(records))
    return hdr + b"".join(records)

seeds = {
    "files": stream([handle((1 << 32) | 0, 77, 3, b"MemTotal: 1 kB\n"),
                     handle((2 << 32) | 5, 0, 4, None)]),
    "nodes": stream([sysfs(0o040555, b"cpu0"), sysfs(0o100444, b"cpu0/online")]),
    "states": stream([state(5, b"\0" * 64), state(4, b"\1" * 32)]),
    "empty": stream([]),
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)

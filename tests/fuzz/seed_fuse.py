#!/usr/bin/env python3
"""Seeds for fuzz_fuse: one input per file, of well-formed requests as the
kernel sends them (LOOKUP, GETATTR, OPEN, READ, READDIR, RELEASE, ...), so
that the fuzzer starts from requests that reach every handler."""
import os
import struct
import sys

# fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, total_extlen, padding
def req(op, nodeid, payload=b"", unique=2, pid=1):
    hdr = struct.pack("<IIQQIIIHH", 40 + len(payload), op, unique, nodeid, 0, 0, pid, 0, 0)
    body = hdr + payload
    return struct.pack("<H", len(body)) + body

LOOKUP, GETATTR, READLINK, OPEN, READ, STATFS, RELEASE, FLUSH = 1, 3, 5, 14, 15, 17, 18, 25
OPENDIR, READDIR, RELEASEDIR, ACCESS, FSYNC = 27, 28, 29, 34, 20
open_in = struct.pack("<II", os.O_RDONLY, 0)
def read_in(fh, off, size):
    return struct.pack("<QQIIQII", fh, off, size, 0, 0, 0, 0)
release_in = struct.pack("<QIIQ", 0, 0, 0, 0)

seeds = {
    "lookup": req(LOOKUP, 1, b"proc\0") + req(LOOKUP, 2, b"meminfo\0"),
    "open_read": req(OPEN, 3, open_in) + req(READ, 3, read_in(0, 0, 4096)) +
                 req(READ, 3, read_in(0, 100, 4096)) + req(RELEASE, 3, release_in),
    "dirs": req(OPENDIR, 1, open_in) + req(READDIR, 1, read_in(0, 0, 4096)) +
            req(RELEASEDIR, 1, release_in),
    "sysfs": req(LOOKUP, 18, b"cpu0\0") + req(GETATTR, (1 << 62) | 12345, b"\0" * 16) +
             req(OPEN, (1 << 62) | 12345, open_in) + req(READLINK, (1 << 62) | 7),
    "misc": req(STATFS, 1) + req(ACCESS, 3, struct.pack("<II", 1, 0)) +
            req(FSYNC, 3, struct.pack("<QII", 0, 0, 0)) + req(FLUSH, 3, b"\0" * 24),
    "many_opens": b"".join(req(OPEN, 3, open_in, unique=2 * i + 2) for i in range(80)),
}
os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)

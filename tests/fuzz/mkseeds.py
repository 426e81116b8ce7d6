#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""mkseeds.py - (re)write the hand-made seed inputs of the fuzz corpora.

The seeds are checked in (tests/fuzz/corpus/<target>/seed-*); this script
documents how they were made and re-creates them after a wire or grammar
change:  python3 tests/fuzz/mkseeds.py
Inputs the fuzzer found (crash-*, timeout-*, leak-*, found-*) are kept
as they are and never rewritten here.
"""
import os
import shutil
import socket
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")
REPO = os.path.dirname(os.path.dirname(HERE))

MAGIC, VERSION, F_MAC, F_ENC = 0x4E535943, 1, 0x0001, 0x0002
(HELLO, HELLO_ACK, REFUSE, SADD, SUPD, SDEL, BSTART, BEND, ACK, HB,
 BREQ) = range(1, 12)


def hdr(typ, body_len, seq, flags=0, version=VERSION, magic=MAGIC):
    return struct.pack("!IBBHII", magic, version, typ, flags, body_len, seq)


def frame(typ, body, seq=1, mac=False, enc=False):
    if enc:  # body stands for ciphertext; the tag is not a valid one
        return hdr(typ, len(body) + 16, seq, F_ENC) + body + bytes(range(16))
    if mac:
        return hdr(typ, len(body) + 16, seq, F_MAC) + body + bytes(range(16))
    return hdr(typ, len(body), seq) + body


def varint(v):
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def hello(name=b"chassis1", role=1, flags=1, caps=0xF):
    return (struct.pack("!BBHIQ", 1, role, flags, caps, 0x1122334455667788) +
            bytes(range(16)) + bytes([len(name)]) + name)


def tuple4(s, d, sp, dp):
    return socket.inet_aton(s) + socket.inet_aton(d) + struct.pack("!HH", sp, dp)


def session(i=0, proto=6, age=120000, idle=500, flags=0x1, bind=0x3):
    return (tuple4("100.64.0.%d" % (10 + i), "198.51.100.10", 40000 + i, 80) +
            bytes([proto]) +
            tuple4("198.51.100.10", "203.0.113.%d" % (1 + i), 80, 1024 + i) +
            struct.pack("!HBBBBBHHB", flags, 0, 1, 4 if proto == 6 else 0, 0,
                        0, 0, 0xFFFF, bind) +
            varint(age) + varint(idle))


def sessions(n, **kw):
    return struct.pack("!H", n) + b"".join(session(i, **kw) for i in range(n))


def dels(n):
    return struct.pack("!H", n) + b"".join(
        tuple4("100.64.0.%d" % (10 + i), "198.51.100.10", 40000 + i, 53) + b"\x11"
        for i in range(n))


def sync_seeds():
    s = {}
    s["hello"] = frame(HELLO, hello())
    s["hello-ack"] = frame(HELLO_ACK, hello(b"chassis2", role=0, flags=0))
    s["hello-noname"] = frame(HELLO, hello(b""))
    s["refuse"] = frame(REFUSE, struct.pack("!BBHQ", 2, 1, 0, 0xDEADBEEF))
    s["session-add-1"] = frame(SADD, sessions(1), mac=True)
    s["session-add-3"] = frame(SADD, sessions(3, age=1 << 34, idle=3))
    s["session-update-udp"] = frame(SUPD, sessions(2, proto=17, age=5, idle=5))
    s["session-icmp"] = frame(SADD, sessions(1, proto=1, flags=0x3, bind=0xF))
    s["session-del"] = frame(SDEL, dels(2), mac=True)
    s["bulk-start"] = frame(BSTART, struct.pack("!II", 7, 1000))
    s["bulk-end"] = frame(BEND, struct.pack("!II", 7, 998), mac=True)
    s["ack"] = frame(ACK, struct.pack("!II", 42, 0), mac=True)
    s["heartbeat"] = frame(HB, struct.pack("!BBHIQ", 1, 1, 100, 12, 3600000))
    s["bulk-request"] = frame(BREQ, b"", mac=True)
    s["enc-session-add"] = frame(SADD, sessions(2), seq=3, enc=True)
    s["enc-heartbeat"] = frame(HB, struct.pack("!BBHIQ", 1, 1, 100, 12, 3600000), enc=True)
    s["enc-bulk-request"] = frame(BREQ, b"", seq=9, enc=True)
    s["hello-encrypt"] = frame(HELLO, hello(caps=0x1F))
    s["stream"] = (frame(HELLO, hello(), 1) + frame(BSTART, struct.pack("!II", 1, 3), 2) +
                   frame(SADD, sessions(3), 3) + frame(BEND, struct.pack("!II", 1, 3), 4) +
                   frame(SDEL, dels(1), 5) + frame(HB, struct.pack("!BBHIQ", 0, 1, 50, 3, 9), 6))
    s["stream-truncated"] = s["stream"][:-7]
    s["bad-magic"] = hdr(ACK, 8, 1, magic=0x4E535944) + bytes(8)
    s["bad-version"] = hdr(HELLO, 40, 1, version=2) + hello()
    s["bad-count"] = frame(SADD, struct.pack("!H", 5) + sessions(2)[2:])
    s["varint-long"] = frame(SADD, struct.pack("!H", 1) + session()[:37] + b"\x80\x80\x80\x80\x80\x01\x00")
    return s


CTL = [
    "show sessions", "show sessions json=1\n", "sh sess src=100.64.0.0/10 proto=tcp",
    "show sessions dst=198.51.100.10 dport=80 sport=40000 limit=5",
    "show sessions nat=203.0.113.0/28 nport=1024 svc=ss1 state=established",
    "show sessions proto=icmp", "show sessions proto=17 limit=100000\r\n",
    "show pools", "show pools pool=p1 json=1", "show counters", "show config",
    "show status json=0", "show sync", "show redundancy", "switchover", "switchover force=1",
    "reload", "s", "show", "show s", "show sessions limit=100001",
    "show sessions src=300.1.1.1", "show sessions src=1.2.3.4/33", "show sessions json=1 json=1",
    "show sessions state=established proto=udp", "show pools svc=x", "sw\tforce=1",
    "show sessions src=100.64.0.1/32 " + " ".join("limit=1" for _ in range(23)),
    "show sessions svc=" + "x" * 70, "sh\x00 sessions", "show sessions \x01",
]


def ctl_seeds():
    return {"%02d" % i: line.encode() for i, line in enumerate(CTL)}


def config_seeds():
    s = {}
    cfgdir = os.path.join(REPO, "configs")
    for f in sorted(os.listdir(cfgdir)):
        if f.endswith(".cfg"):
            with open(os.path.join(cfgdir, f), "rb") as fh:
                s[f[:-4]] = fh.read()
    s["empty"] = b""
    s["empty-root"] = b"natsync: { };\n"
    s["syntax-error"] = b"natsync: { node-name = ; };\n"
    s["wrong-type"] = b'natsync: { max-sessions = "many"; };\n'
    s["unknown-key"] = b"natsync: { nosuchkey = 1; };\n"
    return s


def write(target, seeds):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    for f in os.listdir(d):
        if f.startswith("seed-"):
            os.unlink(os.path.join(d, f))
    for name, data in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as fh:
            fh.write(data)


if __name__ == "__main__":
    write("fuzz_sync_wire", sync_seeds())
    write("fuzz_ctl", ctl_seeds())
    write("fuzz_config", config_seeds())

#!/usr/bin/python3
"""netmeta-decode --pb against --json, through Debian's protoc --decode.

Generates exports with netmeta-gen, decodes them both ways, splits the
length-delimited stream and decodes a sample of messages with
`protoc --decode=netmeta.FlowMessage proto/flow.proto`; each must show the
same values as the JSON record of the same position.
"""
import ipaddress
import json
import subprocess
import sys
import tempfile


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i
        shift += 7


def protoc_text(proto_dir, msg):
    out = subprocess.run(
        ["protoc", "--proto_path=" + proto_dir, "--decode=netmeta.FlowMessage", "flow.proto"],
        input=msg, capture_output=True, check=True)
    fields = {}
    for line in out.stdout.decode().splitlines():
        key, _, val = line.partition(": ")
        key, val = key.strip(), val.strip()
        if key in ("AsPath", "Communities"):  # repeated: one line per entry
            fields.setdefault(key, []).append(int(val))
        else:
            fields[key] = val
    return fields


def addr_bytes(text):
    a = ipaddress.ip_address(text)
    if a.version == 4:
        return b"\0" * 10 + b"\xff\xff" + a.packed
    return a.packed


def unescape(text):
    # protoc prints bytes as a C-escaped string literal
    return text[1:-1].encode("latin-1").decode("unicode_escape").encode("latin-1")


def main():
    gen, dec, proto_dir = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as tmp:
        pcap = tmp + "/w.pcap"
        subprocess.run([gen, "--proto", "all", "--datagrams", "30", "-o", pcap],
                       check=True, capture_output=True)
        js = subprocess.run([dec, "--json", pcap], check=True, capture_output=True).stdout
        pb = subprocess.run([dec, "--pb", pcap], check=True, capture_output=True).stdout
    # --pb leaves interface counters out (they need --counters): flows only
    records = [r for r in (json.loads(l) for l in js.decode().splitlines())
               if r["Type"] != "SFLOW_5_COUNTERS"]
    msgs, i = [], 0
    while i < len(pb):
        n, i = varint(pb, i)
        msgs.append(pb[i:i + n])
        i += n
    assert len(msgs) == len(records) > 0, (len(msgs), len(records))
    checked = 0
    for k in range(0, len(msgs), max(1, len(msgs) // 40)):
        got, want = protoc_text(proto_dir, msgs[k]), records[k]
        for key, val in want.items():
            if key in ("SrcMac", "DstMac"):
                val = int(val.replace(":", ""), 16)
            if isinstance(val, list):
                assert got.get(key, []) == val, (k, key, got.get(key), val)
            elif isinstance(val, bool):
                exp = "true" if val else None
                assert got.get(key) == exp, (k, key, got.get(key), val)
            elif isinstance(val, int):
                exp = str(val) if val else None
                assert got.get(key) == exp, (k, key, got.get(key), val)
            elif key == "Type":
                assert got.get(key) == val, (k, key, got.get(key), val)
            elif key == "NflogPrefix":  # a string: absent when empty
                exp = val.encode() if val else None
                assert (unescape(got[key]) if key in got else None) == exp, (k, key, got.get(key), val)
            elif val == "::":
                assert key not in got, (k, key, got.get(key))  # unset: left out
            else:
                assert unescape(got[key]) == addr_bytes(val), (k, key, got[key], val)
        checked += 1
    print(f"{len(msgs)} messages, {checked} decoded by protoc and equal to the JSON records")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""netmeta-decode over every link type it promises, and over one it does not.

Builds one small pcap per link-layer framing (Ethernet; 802.1Q; QinQ with
0x88a8 and with 0x9100; Linux cooked v1 and v2; BSD loopback as NULL and
LOOP; raw IP as LINKTYPE_RAW 101, IPV4 228 and IPV6 229), over IPv4 and
IPv6 (and two as pcapng), each holding one NetFlow v5 datagram with its own exporter address,
port, record count and values. netmeta-decode --json must exit 0 and print
exactly those records. A capture of a link type it cannot read (USER0, 147)
must exit 3 with a message naming the link type, also beside a good file
(whose records still print); an empty one and one of a known link type with
no UDP in it exit 0.

  /usr/bin/python3 tests/decode/check_linktypes.py build/netmeta-decode [-v]
"""
import ipaddress
import json
import os
import struct
import subprocess
import sys
import tempfile

TS0 = 1700000000
MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_ipv4(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 7, 0, 64, 17, 0,
                      src.packed, dst.packed)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + udp


def udp_ipv6(src, dst, sport, dport, payload):
    ulen = 8 + len(payload)
    pseudo = src.packed + dst.packed + struct.pack("!IxxxB", ulen, 17)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return struct.pack("!IHBB", 0x60000000, ulen, 17, 64) + src.packed + dst.packed + udp


def netflow_v5(case, nrec):
    """One v5 datagram: record i has SrcAddr 10.9.case.i, Bytes 1000*case+i."""
    hdr = struct.pack("!HHIIIIBBH", 5, nrec, 3600000, TS0 + case, 0, case * 100, 0, 0,
                      0x4000 | 100)
    recs = b""
    for i in range(nrec):
        recs += struct.pack("!4s4s4sHHIIIIHHxBBBHHBBxx",
                            bytes([10, 9, case, i]), bytes([198, 51, 100, i]),
                            bytes([192, 0, 2, 254]), 1, 2, 3 + i, 1000 * case + i,
                            3590000, 3599000, 40000 + i, 53, 0, 17, 0, 64500, 64501, 24, 24)
    return hdr + recs


# Link-layer framings: (name, LINKTYPE, function(ip_version, ip_packet) -> frame)
def eth(et, ip):
    return MAC_B + MAC_A + struct.pack("!H", et) + ip


def ethertype(v):
    return 0x0800 if v == 4 else 0x86DD


FRAMINGS = [
    ("ethernet", 1, lambda v, ip: eth(ethertype(v), ip)),
    ("802.1q", 1, lambda v, ip: eth(0x8100, struct.pack("!HH", 100, ethertype(v)) + ip)),
    ("qinq-88a8", 1, lambda v, ip: eth(0x88A8, struct.pack("!HHHH", 200, 0x8100, 100,
                                                           ethertype(v)) + ip)),
    ("qinq-9100", 1, lambda v, ip: eth(0x9100, struct.pack("!HHHH", 200, 0x8100, 100,
                                                           ethertype(v)) + ip)),
    # pkttype 0 (to us), ARPHRD_ETHER, address length 6, address padded to 8
    ("linux-sll", 113, lambda v, ip: struct.pack("!HHH", 0, 1, 6) + MAC_A + b"\0\0"
     + struct.pack("!H", ethertype(v)) + ip),
    # protocol, reserved, interface index, ARPHRD_ETHER, pkttype, address length, address
    ("linux-sll2", 276, lambda v, ip: struct.pack("!HHIHBB", ethertype(v), 0, 2, 1, 0, 6)
     + MAC_A + b"\0\0" + ip),
    # AF_INET 2; AF_INET6 30 (macOS) in the capturing host's order (little-endian here)
    ("bsd-null", 0, lambda v, ip: struct.pack("<I", 2 if v == 4 else 30) + ip),
    # OpenBSD loopback: AF in network order (AF_INET6 24 there)
    ("bsd-loop", 108, lambda v, ip: struct.pack("!I", 2 if v == 4 else 24) + ip),
    ("raw", 101, lambda v, ip: ip),
]
RAW_FAMILY = [("ipv4", 228, 4), ("ipv6", 229, 6)]


def pcap(linktype, frames):
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)
    for ts, f in frames:
        out += struct.pack("<IIII", ts, 250000, len(f), len(f)) + f
    return out


def pcapng(linktype, frames):
    """Section header, one interface (microsecond times), enhanced packet blocks."""
    out = struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)
    out += struct.pack("<IIHHII", 1, 20, linktype, 0, 65535, 20)
    for ts, f in frames:
        us = ts * 1000000 + 250000
        pad = b"\0" * (-len(f) % 4)
        blen = 32 + len(f) + len(pad)
        out += struct.pack("<IIIIIII", 6, blen, 0, us >> 32, us & 0xFFFFFFFF, len(f), len(f))
        out += f + pad + struct.pack("<I", blen)
    return out


def cases():
    """(name, linktype, ip version) for every promised combination."""
    out = []
    for name, lt, _ in FRAMINGS:
        out.append((name, lt, 4, False))
        out.append((name, lt, 6, False))
    for name, lt, v in RAW_FAMILY:
        out.append((name, lt, v, False))
    # pcapng carries LINKTYPE numbers too
    out.append(("raw", 101, 4, True))
    out.append(("linux-sll2", 276, 6, True))
    return out


def build(case, name, lt, v, ng=False):
    nrec = case % 7 + 1
    if v == 4:
        exporter = ipaddress.ip_address("192.0.2.%d" % case)
        ip = udp_ipv4(exporter, ipaddress.ip_address("203.0.113.1"), 2000 + case, 2055,
                      netflow_v5(case, nrec))
    else:
        exporter = ipaddress.ip_address("2001:db8::%x" % case)
        ip = udp_ipv6(exporter, ipaddress.ip_address("2001:db8::1"), 2000 + case, 2055,
                      netflow_v5(case, nrec))
    frame = next(f for n, t, f in FRAMINGS if n == name)(v, ip) if lt not in (228, 229) else ip
    return (pcapng if ng else pcap)(lt, [(TS0 + case, frame)]), exporter, nrec


def run(dec, paths):
    p = subprocess.run([dec, "--json"] + paths, capture_output=True)
    recs = [json.loads(line) for line in p.stdout.decode().splitlines()]
    ctr = {}
    for line in p.stderr.decode().splitlines():
        k, _, val = line.partition(" ")
        if val.isdigit():
            ctr[k] = int(val)
    return p.returncode, recs, ctr, p.stderr.decode()


def main():
    dec = sys.argv[1]
    verbose = "-v" in sys.argv[2:]
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
        return cond

    with tempfile.TemporaryDirectory() as tmp:
        for case, (name, lt, v, ng) in enumerate(cases(), start=1):
            data, exporter, nrec = build(case, name, lt, v, ng)
            path = os.path.join(tmp, "%s-v%d.%s" % (name, v, "pcapng" if ng else "pcap"))
            with open(path, "wb") as f:
                f.write(data)
            rc, recs, ctr, err = run(dec, [path])
            label = "%s (LINKTYPE %d) over IPv%d%s" % (name, lt, v, ", pcapng" if ng else "")
            ok = check(rc == 0, "%s: exit %d, stderr: %s" % (label, rc, err.strip()))
            ok &= check(ctr.get("pkt_udp") == 1 and ctr.get("datagrams_ok") == 1,
                        "%s: counters %s" % (label, ctr))
            ok &= check(len(recs) == nrec, "%s: %d records, want %d" % (label, len(recs), nrec))
            exp_text = str(exporter)
            for i, r in enumerate(recs):
                want = {"Type": "NETFLOW_V5", "SamplerAddress": exp_text,
                        "ExporterPort": 2000 + case, "SrcAddr": "10.9.%d.%d" % (case, i),
                        "Bytes": 1000 * case + i, "Packets": 3 + i, "SamplingRate": 100,
                        "TimeReceived": TS0 + case}
                got = {k: r.get(k) for k in want}
                ok &= check(got == want, "%s: record %d is %s, want %s" % (label, i, got, want))
            if verbose:
                print("%-40s %s: %d records" % (label, "ok" if ok else "FAILED", len(recs)))

        # A link type netmeta-decode cannot read: exit 3 and say which.
        udp = udp_ipv4(ipaddress.ip_address("192.0.2.99"), ipaddress.ip_address("203.0.113.1"),
                       2099, 2055, netflow_v5(99, 1))
        bad = os.path.join(tmp, "user0.pcap")
        with open(bad, "wb") as f:
            f.write(pcap(147, [(TS0, udp), (TS0 + 1, udp)]))
        rc, recs, ctr, err = run(dec, [bad])
        check(rc == 3, "USER0 capture: exit %d, want 3" % rc)
        check("user0.pcap: link type" in err and "DLT 147" in err and "not supported" in err,
              "USER0 capture: message missing: %s" % err.strip())
        check(ctr.get("pkt_link_unknown") == 2 and recs == [],
              "USER0 capture: %s, %d records" % (ctr, len(recs)))
        if verbose:
            print("unsupported link type (147): exit %d: %s" % (rc, err.splitlines()[0]))

        # Beside a good file: the good file's records still print, exit 3.
        good = os.path.join(tmp, "ethernet-v4.pcap")
        rc, recs, ctr, err = run(dec, [good, bad])
        check(rc == 3 and len(recs) == 2 and ctr.get("pkt_udp") == 1,
              "good + USER0: exit %d, %d records, %s" % (rc, len(recs), ctr))

        # No packet at all, or none of them UDP: nothing lost to the link type.
        empty = os.path.join(tmp, "empty-user0.pcap")
        with open(empty, "wb") as f:
            f.write(pcap(147, []))
        rc, recs, ctr, err = run(dec, [empty])
        check(rc == 0 and ctr.get("pcap_packets") == 0, "empty USER0: exit %d, %s" % (rc, ctr))
        arp = eth(0x0806, bytes(28))
        noudp = os.path.join(tmp, "arp.pcap")
        with open(noudp, "wb") as f:
            f.write(pcap(1, [(TS0, arp)]))
        rc, recs, ctr, err = run(dec, [noudp])
        check(rc == 0 and ctr.get("pkt_not_udp") == 1 and recs == [],
              "Ethernet without UDP: exit %d, %s" % (rc, ctr))

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("%d link-type captures decoded, unsupported link type refused" % len(cases()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

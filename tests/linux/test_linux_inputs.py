#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
Suite 'linux-inputs': the NFLOG and conntrack inputs against the kernel.

    test_linux_inputs.py nflog|sampling|conntrack|burst|burst-lossy|metrics|errors NETMETA

Two network namespaces joined by a veth pair: linuxin-<pid>-a holds the
collector (run inside it with ip netns exec: netfilter is per namespace),
the nftables rules and the clients; linuxin-<pid>-b the servers. Static
neighbour entries keep ARP and ND out of the picture.

  nflog      ping, a TCP transfer and UDP, IPv4 and IPv6, logged to group 7 in
             both directions: every packet tcpdump sees on the veth is one
             record with the same header fields and length, and no other;
             each carries its rule's prefix (lx-in, lx-out).
  sampling   numgen random mod 10 == 0 on 4000 UDP datagrams, rate 10 in the
             config: records and estimated bytes within 4.5 sigma.
  conntrack  a TCP transfer of 1,000,000 bytes and one through a DNAT rule:
             each direction's record has the bytes and packets of the
             kernel's own `conntrack -L -o extended`; the NAT record shows
             both tuples.
  burst      10,000 UDP connections deleted at once (10,000 DESTROY events)
             while the collector is stopped (SIGSTOP), 64 KiB socket buffer:
             overruns and dropped events are counted, reliable delivery
             (NETLINK_BROADCAST_ERROR) makes every connection a record, and
             the resync dumps are one per resync_interval, not one per overrun.
  burst-lossy  the same best-effort (reliable: false): records + the events
             counted as dropped = 10,000 exactly.
  metrics    both inputs with the metrics endpoint on: 300 UDP datagrams
             logged to group 10, their 300 connections deleted (300 DESTROY
             events); the scrape shows every NM_LINUX_COUNTERS counter under
             its Prometheus name (netmeta_nflog_packets_total 300,
             netmeta_conntrack_events_total{event="destroy"} 300, overruns
             by input, ...), which worker each input is, and equals the
             counters printed at exit.
  errors     a group out of range, a group another listener holds, no
             CAP_NET_ADMIN, nfnetlink_log / nf_conntrack absent and the kernel
             unable to load modules: exit 1 and a message that says so; not
             loaded but loadable: --check passes, start binds the group (and
             refuses clearly when the conntrack load leaves no conntrack).

Skips (exit 77) with a message: not root, no network namespaces, nft,
tcpdump or conntrack missing, the kernel without nfnetlink_log or conntrack.
Standard library only. Waits are for conditions (deadlines only catch hangs).
"""
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
PID = os.getpid()
NSA = 'linuxin-%d-a' % PID
NSB = 'linuxin-%d-b' % PID
IFA, IFB = 'lxa%d' % (PID % 10000), 'lxb%d' % (PID % 10000)
A4, B4, NAT4 = '10.99.0.1', '10.99.0.2', '10.99.0.100'
A6, B6 = 'fd00:99::1', 'fd00:99::2'
MACA, MACB = '02:00:00:99:00:01', '02:00:00:99:00:02'


def skip(msg):
    print('SKIP: ' + msg)
    sys.exit(SKIP)


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def sh(cmd, check=True, **kw):
    r = subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        raise RuntimeError('%s: exit %d: %s' % (cmd, r.returncode, r.stderr.strip()))
    return r


def ns(name, cmd, check=True):
    return sh(['ip', 'netns', 'exec', name] + (['sh', '-c', cmd] if isinstance(cmd, str) else cmd),
              check=check)


def wait_for(cond, what, deadline=30.0):
    end = time.time() + deadline
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.05)
    fail('timed out waiting for ' + what)


def preflight(need_ct=False, need_tcpdump=False):
    if os.geteuid() != 0:
        skip('needs root (network namespaces, nftables, netlink groups)')
    for tool in ['ip', 'nft'] + (['conntrack'] if need_ct else []) + \
            (['tcpdump'] if need_tcpdump else []):
        if sh(['sh', '-c', 'command -v ' + tool], check=False).returncode != 0:
            skip('%s missing (scripts/install-deps installs it)' % tool)
    if not os.path.exists('/proc/net/netfilter/nfnetlink_log'):
        skip('the kernel has no nfnetlink_log (modprobe nfnetlink_log)')
    if need_ct and not os.path.exists('/proc/sys/net/netfilter/nf_conntrack_events'):
        skip('the kernel has no conntrack events (modprobe nf_conntrack nf_conntrack_netlink)')


def topo_up():
    if sh(['ip', 'netns', 'add', NSA], check=False).returncode != 0:
        skip('cannot create network namespaces here')
    sh(['ip', 'netns', 'add', NSB])
    sh(['ip', 'link', 'add', IFA, 'netns', NSA, 'address', MACA, 'type', 'veth',
        'peer', 'name', IFB, 'netns', NSB, 'address', MACB])
    for n, i, a4, a6, o4, o6, om in ((NSA, IFA, A4, A6, B4, B6, MACB),
                                     (NSB, IFB, B4, B6, A4, A6, MACA)):
        ns(n, 'ip link set lo up; ip addr add %s/24 dev %s; ip addr add %s/64 dev %s nodad;'
              'ip link set %s up; ip neigh add %s lladdr %s dev %s nud permanent;'
              'ip -6 neigh add %s lladdr %s dev %s nud permanent'
           % (a4, i, a6, i, i, o4, om, i, o6, om, i))
    ns(NSA, 'ip neigh add %s lladdr %s dev %s nud permanent' % (NAT4, MACB, IFA))


def topo_down():
    for n in (NSA, NSB):
        sh(['ip', 'netns', 'del', n], check=False)


def nft(rules):
    p = subprocess.run(['ip', 'netns', 'exec', NSA, 'nft', '-f', '-'], input=rules, text=True,
                       capture_output=True)
    if p.returncode != 0:
        fail('nft refused the rules: ' + p.stderr)


# Every collector started, so that a check that fails (sys.exit) does not
# leave one running: main() kills those still alive, by PID.
STARTED = []


class Collector:
    """netmeta inside NSA, JSON lines into a file, stopped by PID."""

    def __init__(self, netmeta, yaml, tmp, ready):
        self.out = os.path.join(tmp, 'records.json')
        self.errf = os.path.join(tmp, 'netmeta.err')
        cfg = os.path.join(tmp, 'netmeta.yaml')
        with open(cfg, 'w') as f:
            f.write('listen: {auto: [%d]}\nstats_interval: 0\nflush_ms: 20\n'
                    'sinks: [{type: json, path: %s}]\n' % (16343, self.out) + yaml)
        self.p = subprocess.Popen(['ip', 'netns', 'exec', NSA, netmeta, '--config', cfg],
                                  stdout=subprocess.DEVNULL, stderr=open(self.errf, 'w'))
        STARTED.append(self.p)
        wait_for(lambda: all(r in self.err() for r in ready) or self.p.poll() is not None,
                 'the collector to start')
        if self.p.poll() is not None:
            fail('netmeta exited at start:\n' + self.err())

    def err(self):
        with open(self.errf) as f:
            return f.read()

    def records(self):
        if not os.path.exists(self.out):
            return []
        with open(self.out) as f:
            return [json.loads(l) for l in f.read().splitlines() if l.endswith('}')]

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            fail('netmeta did not stop on SIGTERM')
        if self.p.returncode != 0:
            fail('netmeta exit %d:\n%s' % (self.p.returncode, self.err()))
        return {m.group(1): int(m.group(2))
                for m in re.finditer(r'^([A-Za-z_0-9]+) (\d+)$', self.err(), re.M)}


# ---- traffic, run inside a namespace by re-executing this file ----

def helper(args):
    kind = args[0]
    if kind == 'tcp-server':  # PORT: accept, read to EOF, repeat
        s = socket.socket(socket.AF_INET6 if ':' in args[2] else socket.AF_INET)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((args[2], int(args[1])))
        s.listen(64)
        while True:
            c, _ = s.accept()
            while c.recv(65536):
                pass
            c.close()
    elif kind == 'udp-server':
        s = socket.socket(socket.AF_INET6 if ':' in args[2] else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((args[2], int(args[1])))
        while True:
            s.recv(65536)
    elif kind == 'tcp-send':  # HOST PORT NBYTES
        fam = socket.AF_INET6 if ':' in args[1] else socket.AF_INET
        s = socket.create_connection((args[1], int(args[2])), timeout=20) \
            if fam == socket.AF_INET else socket.socket(fam)
        if fam == socket.AF_INET6:
            s.settimeout(20)
            s.connect((args[1], int(args[2])))
        left = int(args[3])
        chunk = bytes(random.getrandbits(8) for _ in range(4096))
        while left:
            left -= s.send(chunk[:min(left, len(chunk))])
        s.shutdown(socket.SHUT_WR)
        while s.recv(4096):
            pass
        s.close()
    elif kind == 'http-get':  # URL: the body on stdout
        import urllib.request
        with urllib.request.urlopen(args[1], timeout=30) as r:
            sys.stdout.write(r.read().decode())
    elif kind == 'udp-send':  # HOST PORT COUNT SIZE NEWSOCK
        fam = socket.AF_INET6 if ':' in args[1] else socket.AF_INET
        n, size, new = int(args[3]), int(args[4]), args[5] == '1'
        s = None
        for i in range(n):
            if new or s is None:
                if s:
                    s.close()
                s = socket.socket(fam, socket.SOCK_DGRAM)
                if new:  # one connection each: distinct source ports, none reused
                    s.bind(('', 30000 + i))
            payload = bytes([i & 0xff]) * (size + (i % 7 if not new else 0))
            while True:
                try:
                    s.sendto(payload, (args[1], int(args[2])))
                    break
                except (BlockingIOError, OSError):
                    time.sleep(0.001)


def run_out(name, *args):
    """A helper inside namespace name -> its stdout."""
    cmd = ['ip', 'netns', 'exec', name, sys.executable, os.path.abspath(__file__), 'helper'] + \
        [str(a) for a in args]
    return subprocess.run(cmd, check=True, timeout=120, capture_output=True, text=True).stdout


def run_in(name, *args, bg=False):
    cmd = ['ip', 'netns', 'exec', name, sys.executable, os.path.abspath(__file__), 'helper'] + \
        [str(a) for a in args]
    if bg:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run(cmd, check=True, timeout=120)


# ---- packets as tcpdump saw them ----

def pcap_packets(path):
    """-> [(key, ...)] of every IPv4/IPv6 packet of an Ethernet pcap."""
    out = []
    with open(path, 'rb') as f:
        data = f.read()
    if len(data) < 24:
        return out
    magic = struct.unpack('<I', data[:4])[0]
    e = '<' if magic in (0xa1b2c3d4, 0xa1b23c4d) else '>'
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(e + 'IIII', data[off:off + 16])
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if len(frame) < 14 or len(frame) < 16 + incl - 16:
            break
        et = struct.unpack('>H', frame[12:14])[0]
        out.append(pkt_key(frame[14:], et))
    return [k for k in out if k]


def pkt_key(p, et):
    if et == 0x0800 and len(p) >= 20:
        ihl = (p[0] & 15) * 4
        tot, ipid, frag = struct.unpack('>HHH', p[2:8])
        ttl, proto = p[8], p[9]
        src, dst = socket.inet_ntop(socket.AF_INET, p[12:16]), socket.inet_ntop(socket.AF_INET, p[16:20])
        l4 = p[ihl:]
        ip = (src, dst, proto, tot, ttl, ipid)
    elif et == 0x86dd and len(p) >= 40:
        plen, proto, ttl = struct.unpack('>HBB', p[4:8])
        src, dst = socket.inet_ntop(socket.AF_INET6, p[8:24]), socket.inet_ntop(socket.AF_INET6, p[24:40])
        l4 = p[40:]
        ip = (src, dst, proto, 40 + plen, ttl, 0)
    else:
        return None
    sp = dp = fl = it = ic = 0
    if proto in (6, 17) and len(l4) >= 4:
        sp, dp = struct.unpack('>HH', l4[:4])
        if proto == 6 and len(l4) >= 14:
            fl = l4[13]
    elif proto in (1, 58) and len(l4) >= 2:
        it, ic = l4[0], l4[1]
    return ip + (sp, dp, fl, it, ic)


def rec_key(r):
    return (r['SrcAddr'], r['DstAddr'], r['Proto'], r['Bytes'], r['IPTTL'],
            r['FragmentId'] if r['Etype'] == 0x800 else 0,
            r['SrcPort'], r['DstPort'], r['TCPFlags'], r['IcmpType'], r['IcmpCode'])


def ifindex(name, dev):
    return int(ns(name, 'cat /sys/class/net/%s/ifindex' % dev).stdout)


# ---- the tests ----

def test_nflog(netmeta, tmp):
    preflight(need_tcpdump=True)
    nft('''table inet linuxin {
  chain o { type filter hook output priority 0;
    oif "%(a)s" ip saddr 10.99.0.0/24 counter log group 7 prefix "lx-out"
    oif "%(a)s" ip6 saddr fd00:99::/64 counter log group 7 prefix "lx-out"
  }
  chain i { type filter hook input priority 0;
    iif "%(a)s" ip saddr 10.99.0.0/24 counter log group 7 prefix "lx-in"
    iif "%(a)s" ip6 saddr fd00:99::/64 counter log group 7 prefix "lx-in"
  }
}''' % {'a': IFA})
    c = Collector(netmeta, 'nflog: {groups: [{group: 7, sampling_rate: 1}], copy_range: 128, '
                  'queue_threshold: 8, flush_timeout_ms: 20}\n', tmp,
                  ['netmeta: nflog: bound group 7'])
    cap = os.path.join(tmp, 'veth.pcap')
    td = subprocess.Popen(['ip', 'netns', 'exec', NSA, 'tcpdump', '-U', '-n', '-s', '256', '-i',
                           IFA, '-w', cap, 'ip src net 10.99.0.0/24 or ip6 src net fd00:99::/64'],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    line = td.stderr.readline()
    if 'listening' not in line:
        fail('tcpdump did not start: ' + line)
    srv = [run_in(NSB, 'tcp-server', 5001, B4, bg=True), run_in(NSB, 'tcp-server', 5011, B6, bg=True),
           run_in(NSB, 'udp-server', 5002, B4, bg=True), run_in(NSB, 'udp-server', 5012, B6, bg=True)]
    try:
        wait_for(lambda: '5001' in ns(NSB, 'ss -ltn').stdout and '5011' in ns(NSB, 'ss -ltn').stdout
                 and '5002' in ns(NSB, 'ss -lun').stdout and '5012' in ns(NSB, 'ss -lun').stdout,
                 'the servers')
        ns(NSA, 'ping -c 5 -i 0.05 %s >/dev/null; ping -6 -c 5 -i 0.05 %s >/dev/null' % (B4, B6))
        run_in(NSA, 'tcp-send', B4, 5001, 200000)
        run_in(NSA, 'tcp-send', B6, 5011, 100000)
        run_in(NSA, 'udp-send', B4, 5002, 50, 300, 0)
        run_in(NSA, 'udp-send', B6, 5012, 50, 900, 0)
        # Both views complete: tcpdump has written, and the collector has
        # recorded, every packet the rules logged (their counters: equal
        # counts alone can meet while both are still behind).
        def settled():
            logged = sum(int(x) for x in re.findall(
                r'counter packets (\d+)', ns(NSA, 'nft list table inet linuxin').stdout))
            a, b = len(pcap_packets(cap)), len(c.records())
            return a == b == logged and a > 0 and (a, b)
        wait_for(settled, 'tcpdump and the collector to agree on the packet count', 30)
    finally:
        for s in srv:
            s.kill()
            s.wait()
    td.send_signal(signal.SIGINT)
    td.wait(timeout=30)
    ctr = c.stop()
    seen = sorted(pcap_packets(cap))
    recs = c.records()
    got = sorted(rec_key(r) for r in recs)
    if got != seen:
        only_t = [k for k in seen if k not in got][:5]
        only_r = [k for k in got if k not in seen][:5]
        fail('records differ from tcpdump: %d vs %d; tcpdump only %s; records only %s'
             % (len(got), len(seen), only_t, only_r))
    idx = ifindex(NSA, IFA)
    kinds = {}
    for r in recs:
        if r['Type'] != 'NFLOG' or r['SamplingRate'] != 1 or r['ObservationDomainId'] != 7:
            fail('record not from group 7 at rate 1: %s' % r)
        out = r['SrcAddr'] in (A4, A6)
        if out and (r['OutIf'] != idx or r['InIf'] != 0 or r['FlowDirection'] != 1):
            fail('outgoing packet without OutIf %d: %s' % (idx, r))
        if not out and (r['InIf'] != idx or r['OutIf'] != 0 or r['FlowDirection'] != 0 or
                        r['SrcMac'] != MACB or r['DstMac'] != MACA):
            fail('incoming packet without InIf %d and MACs: %s' % (idx, r))
        if r['NflogPrefix'] != ('lx-out' if out else 'lx-in'):
            fail('record without its rule\'s prefix (%s): %s' % ('lx-out' if out else 'lx-in', r))
        if out and r['Proto'] == 6 and not r['HasSocketUid']:
            fail('TCP packet of a local socket without its UID: %s' % r)
        kinds[(r['Etype'], r['Proto'])] = kinds.get((r['Etype'], r['Proto']), 0) + 1
    seqs = sorted(r['SequenceNum'] for r in recs)
    if seqs != list(range(seqs[0], seqs[0] + len(seqs))):
        fail('sequence numbers not contiguous')
    for k in ((0x800, 1), (0x800, 6), (0x800, 17), (0x86dd, 58), (0x86dd, 6), (0x86dd, 17)):
        if kinds.get(k, 0) == 0:
            fail('no record of etype/proto %s' % (k,))
    if ctr.get('NFLOG_PACKETS') != len(recs) or ctr.get('NFLOG_OVERRUNS') or \
            ctr.get('NFLOG_SEQ_LOST') or ctr.get('RECORDS_SENT') != len(recs):
        fail('counters disagree: %s' % ctr)
    print('nflog: %d packets, tcpdump = records field for field; by (etype, proto): %s; '
          'tcp bytes logged %d' % (len(recs), kinds,
                                   sum(r['Bytes'] for r in recs if r['Proto'] == 6)))


def test_sampling(netmeta, tmp):
    preflight()
    n, size, rate = 4000, 100, 10
    nft('''table inet linuxin { chain o { type filter hook output priority 0;
    oif "%s" udp dport 5002 numgen random mod %d == 0 counter log group 8
  }
}''' % (IFA, rate))
    c = Collector(netmeta, 'nflog: {groups: [{group: 8, sampling_rate: %d}]}\n' % rate, tmp,
                  ['netmeta: nflog: bound group 8'])
    run_in(NSA, 'udp-send', B4, 5002, n, size, 1)
    # every packet the rule logged (its counter) reaches the collector
    def logged():
        return sum(int(x) for x in re.findall(
            r'counter packets (\d+)', ns(NSA, 'nft list table inet linuxin').stdout))
    wait_for(lambda: len(c.records()) >= logged() > 0, 'the sampled records')
    ctr = c.stop()
    recs = c.records()
    k = len(recs)
    ip_len = 20 + 8 + size
    if any(r['Bytes'] != ip_len or r['SamplingRate'] != rate for r in recs):
        fail('a sampled record with the wrong length or rate')
    if k != logged():
        fail('%d records of %d packets logged' % (k, logged()))
    if any(r['NflogPrefix'] != '' for r in recs):
        fail('a prefix on a record of a rule without one')
    est_pkts = k * rate
    p = 1.0 / rate
    sigma = (n * p * (1 - p)) ** 0.5 * rate  # of the estimate
    bound = 4.5 * sigma
    est_bytes = sum(r['Bytes'] * r['SamplingRate'] for r in recs)
    if abs(est_pkts - n) > bound or abs(est_bytes - n * ip_len) > bound * ip_len:
        fail('estimate %d packets / %d bytes, true %d / %d, bound +-%.0f packets'
             % (est_pkts, est_bytes, n, n * ip_len, bound))
    if ctr.get('NFLOG_SEQ_LOST') or ctr.get('NFLOG_OVERRUNS'):
        fail('loss while sampling: %s' % ctr)
    print('sampling 1/%d: %d of %d packets logged; estimated %d packets, %d bytes (true %d, %d); '
          '4.5 sigma = %.0f packets' % (rate, k, n, est_pkts, est_bytes, n, n * ip_len, bound))


def ct_entries(match):
    """conntrack -L -o extended lines containing match -> [dict]."""
    out = ns(NSA, 'conntrack -L -o extended 2>/dev/null', check=False).stdout
    res = []
    for line in out.splitlines():
        if match not in line:
            continue
        kv = re.findall(r'(\w+)=(\S+)', line)
        res.append({'line': line, 'orig': dict(kv[:len(kv) // 2]), 'kv': kv})
    return res


def ct_counters(line):
    """(orig packets, orig bytes, reply packets, reply bytes) of a -L line."""
    pk = [int(x) for x in re.findall(r'packets=(\d+)', line)]
    by = [int(x) for x in re.findall(r'bytes=(\d+)', line)]
    return pk[0], by[0], pk[1], by[1]


def test_conntrack(netmeta, tmp):
    preflight(need_ct=True)
    nft('''table inet linuxin { chain o { type filter hook output priority 0; ct state new counter
  }
}
table ip linuxin_nat { chain o { type nat hook output priority -100;
    ip daddr %s tcp dport 80 dnat to %s:5001
  }
}''' % (NAT4, B4))
    c = Collector(netmeta, 'conntrack: {}\n', tmp, ['netmeta: conntrack: listening for events'])
    if ns(NSA, 'cat /proc/sys/net/netfilter/nf_conntrack_acct').stdout.strip() != '1':
        fail('the collector did not turn accounting on')
    srv = run_in(NSB, 'tcp-server', 5001, B4, bg=True)
    kernel = {}
    try:
        wait_for(lambda: '5001' in ns(NSB, 'ss -ltn').stdout, 'the server')
        for name, host, port, nbytes in (('plain', B4, 5001, 1000000), ('nat', NAT4, 80, 300000)):
            run_in(NSA, 'tcp-send', host, port, nbytes)
            match = 'dst=%s' % host
            # the kernel's final counters: once TIME_WAIT and stable
            def final():
                e = [x for x in ct_entries(match) if 'TIME_WAIT' in x['line']]
                return e and e[0]
            e = wait_for(final, 'the %s connection to reach TIME_WAIT' % name)
            kernel[name] = (e['line'], ct_counters(e['line']), nbytes)
            ns(NSA, 'conntrack -D -p tcp --orig-dst %s >/dev/null 2>&1' % host, check=False)
        wait_for(lambda: len([r for r in c.records() if r['Proto'] == 6]) >= 4,
                 'the DESTROY records')
    finally:
        srv.kill()
        srv.wait()
    ctr = c.stop()
    recs = [r for r in c.records() if r['Proto'] == 6]
    for name, (line, (op, ob, rp, rb), nbytes) in kernel.items():
        host = B4 if name == 'plain' else NAT4
        o = [r for r in recs if r['DstAddr'] == host and r['BiFlowDirection'] == 1]
        if len(o) != 1:
            fail('%s: %d original-direction records' % (name, len(o)))
        o = o[0]
        rp_ = [r for r in recs if r['BiFlowDirection'] == 2 and r['ConntrackId'] == o['ConntrackId']]
        if len(rp_) != 1:
            fail('%s: no reply record paired by ConntrackId' % name)
        r = rp_[0]
        if (o['Packets'], o['Bytes'], r['Packets'], r['Bytes']) != (op, ob, rp, rb):
            fail('%s: records %s/%s %s/%s, conntrack -L %s' % (name, o['Packets'], o['Bytes'],
                                                               r['Packets'], r['Bytes'], line))
        if ob <= nbytes:
            fail('%s: %d bytes counted for a %d-byte transfer' % (name, ob, nbytes))
        if not (o['TimeFlowStartNs'] < o['TimeFlowEndNs'] and o['FlowEndReason'] == 3 and
                o['SamplingRate'] == 1 and o['Type'] == 'CONNTRACK'):
            fail('%s: times, reason or type wrong: %s' % (name, o))
        if name == 'plain':
            if o['PostNatDstAddr'] != B4 or o['PostNatDstPort'] != 5001 or \
                    o['PostNatSrcAddr'] != A4 or o['PostNatSrcPort'] != o['SrcPort']:
                fail('plain: post-NAT tuple is not the tuple itself: %s' % o)
        else:
            want_o = (A4, NAT4, 80, B4, 5001)
            got_o = (o['SrcAddr'], o['DstAddr'], o['DstPort'], o['PostNatDstAddr'], o['PostNatDstPort'])
            want_r = (B4, A4, 5001, NAT4, 80)
            got_r = (r['SrcAddr'], r['DstAddr'], r['SrcPort'], r['PostNatSrcAddr'], r['PostNatSrcPort'])
            if got_o != want_o or got_r != want_r or not (o['ConntrackStatus'] & 0x20):
                fail('nat: original %s (want %s), reply %s (want %s), status %#x'
                     % (got_o, want_o, got_r, want_r, o['ConntrackStatus']))
        print('conntrack %s: original %d packets %d bytes, reply %d packets %d bytes = '
              'conntrack -L -o extended' % (name, op, ob, rp, rb))
    if ctr.get('CT_DESTROY', 0) < 2 or ctr.get('CT_OVERRUNS'):
        fail('counters: %s' % ctr)


def stopped(pid):
    """The process (every thread) is stopped by SIGSTOP."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] == 'T'
    except OSError:
        return False


def burst(netmeta, tmp, reliable):
    """10,000 UDP connections deleted at once while the collector is stopped
    (SIGSTOP): its 64 KiB socket buffer overruns for certain. Reliable: every
    connection a record. Best-effort: records + events counted as dropped =
    10,000 exactly."""
    preflight(need_ct=True)
    n, interval = 10000, 5
    nft('table inet linuxin { chain o { type filter hook output priority 0; ct state new counter\n }\n}')
    # the collector's whole life bounds the dumps: with NEW events on, the
    # 10,000 connections' creation can overrun (and dump) as well
    t0 = time.time()
    c = Collector(netmeta, 'conntrack: {rcvbuf: 65536, resync_interval: %d%s}\n'
                  % (interval, '' if reliable else ', reliable: false, events: [destroy]'), tmp,
                  ['netmeta: conntrack: listening for events'])
    # unreplied UDP entries live 30 s by default: long enough is safer on a slow machine
    ns(NSA, 'echo 300 > /proc/sys/net/netfilter/nf_conntrack_udp_timeout')
    run_in(NSA, 'udp-send', B4, 5003, n, 20, 1)

    def count():
        r = ns(NSA, 'conntrack -L -p udp --orig-port-dst 5003 2>/dev/null | wc -l', check=False)
        k = int(r.stdout.strip() or 0)
        return k >= n and k
    live = wait_for(count, '%d conntrack entries' % n)
    # ip netns exec execs netmeta: the PID is the collector's
    os.kill(c.p.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: stopped(c.p.pid), 'the collector to stop (SIGSTOP)')
        ns(NSA, 'conntrack -D -p udp --orig-port-dst 5003 >/dev/null 2>&1', check=False)
    finally:
        os.kill(c.p.pid, signal.SIGCONT)

    def ends():  # DESTROY records, original direction, one per connection
        return [r for r in c.records() if r['DstPort'] == 5003 and r['BiFlowDirection'] == 1
                and r['FlowEndReason'] == 3]
    if reliable:  # the kernel re-sends what it could not deliver
        end = time.time() + 120
        while time.time() < end and len(ends()) < n:
            time.sleep(0.2)
    # best-effort: nothing more will come; stopping reads what is queued
    ctr = c.stop()
    elapsed = time.time() - t0
    fin = ends()
    ports = set(r['SrcPort'] for r in fin)
    # every packet and byte of these connections is in the records
    allr = [r for r in c.records() if r['DstPort'] == 5003 and r['BiFlowDirection'] == 1]
    pk, by = sum(r['Packets'] for r in allr), sum(r['Bytes'] for r in allr)
    over, drops = ctr.get('CT_OVERRUNS', 0), ctr.get('CT_EVENTS_DROPPED', 0)
    dumps = ctr.get('CT_RESYNC_DUMPS', 0)
    what = ('%d DESTROY records (%d connections) of %d; %d packets, %d bytes; overruns %d, '
            'events dropped %d, resync dumps %d in %.1f s of the collector' % (len(fin), len(ports), n, pk, by,
                                                             over, drops, dumps, elapsed))
    if over == 0 or drops == 0:
        fail('no overrun while the collector was stopped: ' + what)
    if len(ports) != len(fin) or pk != len(fin) or by != len(fin) * 48 or \
            ctr.get('CT_DESTROY') != len(fin):
        fail('records and the traffic disagree: %s; %s' % (what, ctr))
    if reliable and len(fin) != n:
        fail('reliable delivery lost connections: ' + what)
    if not reliable and len(fin) + drops != n:
        fail('records + dropped events != %d DESTROY events: %s' % (n, what))
    # Rate-limited: at most one dump per interval, never more than overruns.
    # Reliable, the re-sends take long enough for the burst's dump to run;
    # best-effort, the stop may come first and the last read is the drain at
    # shutdown, which dumps nothing (0 or 1).
    if not (1 if reliable else 0) <= dumps <= min(over, 1 + int(elapsed // interval)):
        fail('resync dumps not one per %d s after overruns: %s' % (interval, what))
    print('burst (%s): %d connections, %d DESTROY events, %d records (%d packets, %d bytes); '
          'socket overruns %d, events dropped by the kernel %d, %s; resync dumps %d in the '
          'collector\'s %.1f s '
          '(%d live connections seen)'
          % ('reliable' if reliable else 'best-effort', live, ctr.get('CT_DESTROY', 0), len(fin),
             pk, by, over, drops, 'all re-sent, nothing lost' if reliable else
             'records + dropped = %d' % (len(fin) + drops), dumps, elapsed,
             ctr.get('CT_RESYNC_LIVE', 0)))


def test_burst(netmeta, tmp):
    burst(netmeta, tmp, True)


def test_burst_lossy(netmeta, tmp):
    burst(netmeta, tmp, False)


# NM_LINUX_COUNTERS (dataplane/linux_in.h) -> (family, labels), as
# dataplane/metrics.c names them
LC_METRICS = {
    'NFLOG_PACKETS': ('netmeta_nflog_packets_total', {}),
    'NFLOG_NOT_IP': ('netmeta_nflog_not_ip_packets_total', {}),
    'NFLOG_HDR_CUT': ('netmeta_nflog_header_cut_records_total', {}),
    'NFLOG_OVERRUNS': ('netmeta_linux_input_overruns_total', {'input': 'nflog'}),
    'NFLOG_SEQ_LOST': ('netmeta_nflog_sequence_lost_total', {}),
    'NFLOG_PREFIX_CUT': ('netmeta_nflog_prefix_cut_records_total', {}),
    'CT_NEW': ('netmeta_conntrack_events_total', {'event': 'new'}),
    'CT_DESTROY': ('netmeta_conntrack_events_total', {'event': 'destroy'}),
    'CT_DUMPED': ('netmeta_conntrack_dumped_connections_total', {}),
    'CT_REPLY_EMPTY': ('netmeta_conntrack_reply_empty_total', {}),
    'CT_NO_COUNTERS': ('netmeta_conntrack_no_accounting_total', {}),
    'CT_OVERRUNS': ('netmeta_linux_input_overruns_total', {'input': 'conntrack'}),
    'CT_EVENTS_DROPPED': ('netmeta_conntrack_events_dropped_total', {}),
    'CT_RESYNC_DUMPS': ('netmeta_conntrack_resync_dumps_total', {}),
    'CT_RESYNC_LIVE': ('netmeta_conntrack_resync_connections_total', {}),
    'CT_DUMP_FAILED': ('netmeta_conntrack_dumps_failed_total', {}),
}


def parse_metrics(text):
    """Prometheus text -> ({(name, frozenset(labels)): value}, {family: type})."""
    samples, types = {}, {}
    for line in text.splitlines():
        if line.startswith('# TYPE '):
            _, _, name, typ = line.split(' ', 3)
            if name in types:
                fail('family %s declared twice' % name)
            types[name] = typ
            continue
        if not line or line.startswith('#'):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$', line)
        if not m:
            fail('bad metrics line %r' % line)
        labels = frozenset(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(3) or ''))
        samples[(m.group(1), labels)] = float(m.group(4))
    return samples, types


def metric(samples, name, **labels):
    """The one series of name with exactly these labels, or None."""
    return samples.get((name, frozenset((k, str(v)) for k, v in labels.items())))


def test_metrics(netmeta, tmp):
    preflight(need_ct=True)
    n, mport = 300, 19464
    # The scrapes' own TCP connections stay out of conntrack (no events);
    # "ct state" turns connection tracking on in the namespace.
    nft('''table inet linuxin {
  chain raw_o { type filter hook output priority raw;
    tcp dport %(m)d notrack
    tcp sport %(m)d notrack
  }
  chain raw_p { type filter hook prerouting priority raw;
    tcp dport %(m)d notrack
    tcp sport %(m)d notrack
  }
  chain o { type filter hook output priority 0;
    ct state new counter
    oif "%(a)s" udp dport 5002 log group 10
  }
}''' % {'a': IFA, 'm': mport})
    # unreplied UDP entries live 30 s by default: long enough is safer on a slow machine
    ns(NSA, 'echo 300 > /proc/sys/net/netfilter/nf_conntrack_udp_timeout')
    c = Collector(netmeta, 'nflog: {groups: [{group: 10, sampling_rate: 1}]}\nconntrack: {}\n'
                  'metrics: {listen: "127.0.0.1:%d"}\n' % mport, tmp,
                  ['netmeta: nflog: bound group 10', 'netmeta: conntrack: listening for events',
                   'netmeta: ready'])

    def scrape():
        return parse_metrics(run_out(NSA, 'http-get', 'http://127.0.0.1:%d/metrics' % mport))
    s0, types = scrape()
    for name, (fam, lab) in LC_METRICS.items():
        if metric(s0, fam, **lab) is None or types.get(fam) != 'counter':
            fail('%s: no counter %s%s in the scrape before traffic' % (name, fam, lab or ''))
    # one connection per datagram (distinct source ports), each logged once
    run_in(NSA, 'udp-send', B4, 5002, n, 40, 1)
    wait_for(lambda: len([r for r in c.records() if r['Type'] == 'NFLOG']) >= n, 'the NFLOG records')
    wait_for(lambda: int(ns(NSA, 'conntrack -L -p udp --orig-port-dst 5002 2>/dev/null | wc -l',
                            check=False).stdout.strip() or 0) >= n, '%d conntrack entries' % n)
    ns(NSA, 'conntrack -D -p udp --orig-port-dst 5002 >/dev/null 2>&1', check=False)

    def ct_done():
        return len([r for r in c.records() if r['Type'] == 'CONNTRACK' and r['DstPort'] == 5002
                    and r['FlowEndReason'] == 3]) >= n
    wait_for(ct_done, 'the DESTROY records', 60)
    # no event in flight: the counters stop moving
    last = [None, time.time()]

    def settled():
        s, _ = scrape()
        v = tuple(metric(s, f, **l) for f, l in LC_METRICS.values())
        if v != last[0]:
            last[0], last[1] = v, time.time()
        return time.time() - last[1] > 1.0 and s
    s = wait_for(settled, 'the Linux counters to settle', 60)
    info = {dict(ls)['input']: dict(ls)['worker'] for (nm_, ls), v in s.items()
            if nm_ == 'netmeta_linux_input_info' and v == 1}
    ctr = c.stop()
    recs = c.records()
    nfl = [r for r in recs if r['Type'] == 'NFLOG']
    ctr_recs = [r for r in recs if r['Type'] == 'CONNTRACK']
    checks = [
        (metric(s, 'netmeta_nflog_packets_total'), n, 'netmeta_nflog_packets_total'),
        (metric(s, 'netmeta_conntrack_events_total', event='new'), n,
         'netmeta_conntrack_events_total{event="new"} (the scrapes are not tracked)'),
        (metric(s, 'netmeta_conntrack_events_total', event='destroy'), n,
         'netmeta_conntrack_events_total{event="destroy"}'),
        (metric(s, 'netmeta_conntrack_reply_empty_total'), n,
         'netmeta_conntrack_reply_empty_total (unreplied UDP)'),
        (metric(s, 'netmeta_linux_input_overruns_total', input='nflog'), 0, 'nflog overruns'),
        (metric(s, 'netmeta_linux_input_overruns_total', input='conntrack'), 0, 'conntrack overruns'),
        (metric(s, 'netmeta_nflog_sequence_lost_total'), 0, 'nflog sequence loss'),
        (info, {'nflog': '1', 'conntrack': '2'}, 'netmeta_linux_input_info: nflog worker 1, conntrack 2'),
        (metric(s, 'netmeta_records_sent_total', worker=1), len(nfl), 'records of the nflog worker'),
        (metric(s, 'netmeta_records_sent_total', worker=2), len(ctr_recs),
         'records of the conntrack worker'),
        (len(nfl), n, 'NFLOG records'),
    ]
    bad = ['%s: scraped %s, want %s' % (what, got, want) for got, want, what in checks if got != want]
    for name, (fam, lab) in LC_METRICS.items():
        if metric(s, fam, **lab) != ctr.get(name):
            bad.append('%s: scraped %s, %s at exit' % (fam + str(lab or ''), metric(s, fam, **lab), ctr.get(name)))
    if bad:
        fail('metrics: ' + '; '.join(bad))
    print('metrics: nflog_packets %d, conntrack events new %d destroy %d, reply_empty %d, overruns '
          '%d/%d; inputs on workers %s; all %d Linux counters = the exit lines'
          % (metric(s, 'netmeta_nflog_packets_total'),
             metric(s, 'netmeta_conntrack_events_total', event='new'),
             metric(s, 'netmeta_conntrack_events_total', event='destroy'),
             metric(s, 'netmeta_conntrack_reply_empty_total'),
             metric(s, 'netmeta_linux_input_overruns_total', input='nflog'),
             metric(s, 'netmeta_linux_input_overruns_total', input='conntrack'), info,
             len(LC_METRICS)))


def expect_fail(cmd, want, what):
    r = sh(cmd, check=False)
    if r.returncode != 1 or want not in r.stderr:
        fail('%s: exit %d, expected 1 and "%s":\n%s' % (what, r.returncode, want, r.stderr))
    print('%s: %s' % (what, [l for l in r.stderr.splitlines() if want in l][0]))


def expect_ok(cmd, want, what):
    r = sh(cmd, check=False)
    if r.returncode != 0 or want not in r.stderr:
        fail('%s: exit %d, expected 0 and "%s":\n%s' % (what, r.returncode, want, r.stderr))
    print('%s: %s' % (what, [l for l in r.stderr.splitlines() if want in l][0]))


def test_errors(netmeta, tmp):
    preflight(need_ct=True)
    cfg = os.path.join(tmp, 'e.yaml')

    def conf(text, port=16343):
        with open(cfg, 'w') as f:
            f.write('listen: {auto: [%d]}\nstats_interval: 0\nsinks: [{type: discard}]\n'
                    % port + text)
        return cfg
    expect_fail([netmeta, '--config', conf('nflog: {groups: [70000]}\n'), '--check'],
                "nflog.groups[0]: '70000' is out of range (0..65535)", 'group out of range')
    expect_fail([netmeta, '--config', conf('nflog: {copy_range: 128}\n'), '--check'],
                'nflog: groups: at least one log group', 'no group')
    # a group another listener holds (the second netmeta on another UDP
    # port: start-up refuses a port in use before it binds the groups)
    c = Collector(netmeta, 'nflog: {groups: [9]}\n', tmp, ['netmeta: nflog: bound group 9'])
    expect_fail(['ip', 'netns', 'exec', NSA, netmeta, '--config', conf('nflog: {groups: [9]}\n', 16344)],
                'nflog: group 9 is already bound by another listener', 'group taken')
    c.stop()
    # without CAP_NET_ADMIN: refused by --check and at start
    nobody = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']
    os.chmod(tmp, 0o755)
    for y, who in (('nflog: {groups: [9]}\n', 'nflog'), ('conntrack: {}\n', 'conntrack')):
        conf(y)
        os.chmod(cfg, 0o644)
        expect_fail(nobody + [netmeta, '--config', cfg, '--check'],
                    '%s: needs CAP_NET_ADMIN' % who, 'no privileges (%s, --check)' % who)
        expect_fail(['ip', 'netns', 'exec', NSA] + nobody + [netmeta, '--config', cfg],
                    '%s: needs CAP_NET_ADMIN' % who, 'no privileges (%s, start)' % who)
    # The kernel parts absent, as a private mount namespace shows them. A
    # kernel that can load modules (/proc/sys/kernel/modprobe, modules_disabled
    # 0) loads them when the group is bound or the conntrack socket opened, so
    # the preflight refuses only when it cannot; both views are made up here
    # with a tmpfs over /proc/sys/kernel (this machine's kernel may be either).
    nomod = 'mount -t tmpfs none /proc/sys/kernel && '
    canmod = ('mount -t tmpfs none /proc/sys/kernel && echo /sbin/modprobe > /proc/sys/kernel/modprobe'
              ' && echo 0 > /proc/sys/kernel/modules_disabled && ')
    noct = 'mount -t tmpfs none /proc/sys/net/netfilter && '
    conf('conntrack: {}\n')
    expect_fail(['unshare', '--mount', 'sh', '-c',
                 noct + nomod + 'exec %s --config %s' % (netmeta, cfg)],
                'conntrack: no connection tracking in this network namespace', 'no nf_conntrack')
    # loadable: --check passes and says so; start tries (a query that loads
    # nf_conntrack_netlink), the sysctls stay hidden, so it refuses clearly
    expect_ok(['unshare', '--mount', 'sh', '-c',
               noct + canmod + 'exec %s --config %s --check' % (netmeta, cfg)],
              'conntrack: nf_conntrack is not loaded yet', 'nf_conntrack not loaded yet (--check)')
    expect_fail(['ip', 'netns', 'exec', NSA, 'unshare', '--mount', 'sh', '-c',
                 noct + canmod + 'exec %s --config %s' % (netmeta, cfg)],
                'conntrack: no connection tracking in this network namespace after trying to '
                'load it', 'nf_conntrack not loadable (start)')
    # /proc/net is a link to /proc/self/net, looked up per process: a tmpfs over
    # the shell's /proc/PID/net covers it for the netmeta the shell execs (same
    # PID), and stands for a kernel without nfnetlink_log
    nonet = 'mount -t tmpfs none /proc/$$/net && '
    conf('nflog: {groups: [9]}\n')
    expect_fail(['unshare', '--mount', 'sh', '-c',
                 nonet + nomod + 'exec %s --config %s --check' % (netmeta, cfg)],
                'nflog: the kernel has no nfnetlink_log', 'no nfnetlink_log')
    canload = nonet + canmod
    expect_ok(['unshare', '--mount', 'sh', '-c', canload + 'exec %s --config %s --check'
               % (netmeta, cfg)],
              'nflog: nfnetlink_log is not loaded yet', 'nfnetlink_log not loaded yet (--check)')
    # ... and start binds the group (the bind is what loads the module)
    errf = os.path.join(tmp, 'autoload.err')
    p = subprocess.Popen(['ip', 'netns', 'exec', NSA, 'unshare', '--mount', 'sh', '-c',
                          canload + 'exec %s --config %s' % (netmeta, cfg)],
                         stdout=subprocess.DEVNULL, stderr=open(errf, 'w'))
    try:
        wait_for(lambda: 'bound group 9' in open(errf).read() or p.poll() is not None,
                 'netmeta to bind group 9 with nfnetlink_log "not loaded"')
    finally:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        rc = p.wait(timeout=60)
    err = open(errf).read()
    if 'bound group 9' not in err or 'not loaded yet' not in err or rc != 0:
        fail('start with nfnetlink_log "not loaded": exit %d:\n%s' % (rc, err))
    print('nfnetlink_log not loaded yet (start): %s' % [l for l in err.splitlines()
                                                       if 'bound group' in l][0])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == 'helper':
        helper(sys.argv[2:])
        return
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    test = {'nflog': test_nflog, 'sampling': test_sampling, 'conntrack': test_conntrack,
            'burst': test_burst, 'burst-lossy': test_burst_lossy, 'metrics': test_metrics,
            'errors': test_errors}[sys.argv[1]]
    netmeta = os.path.abspath(sys.argv[2])
    if os.geteuid() != 0:
        skip('needs root (network namespaces, nftables, netlink groups)')
    with tempfile.TemporaryDirectory(prefix='linuxin-') as tmp:
        topo_up()
        try:
            test(netmeta, tmp)
        finally:
            for p in STARTED:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            topo_down()
    print('PASS')


if __name__ == '__main__':
    main()

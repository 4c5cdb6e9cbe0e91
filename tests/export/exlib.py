# SPDX-License-Identifier: BSD-3-Clause
"""
Shared helpers of the 'export' test suite (Python standard library only):
the mock Kafka broker as a child process driven through its stdin, the
collector (DPDK net_pcap replay or socket backend), an independent consumer
(kcat, length-delimited records split here), netmeta-cat, netmeta-decode,
the spool segment format, and multiset comparisons of JSON records.

Every test takes the same arguments (build paths, passed by meson):
    --netmeta X --decode X --gen X --mock X --cat X --proto X
"""

import collections
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SKIP = 77

# Fields that derive from the receive time: the daemon stamps the wall clock,
# netmeta-decode the capture's timestamps (sFlow flow times are receive times).
DROP_ALWAYS = ('TimeReceived', 'TimeReceivedNs')
DROP_SFLOW = ('TimeFlowStart', 'TimeFlowEnd', 'TimeFlowStartNs', 'TimeFlowEndNs')


def skip(msg):
    print('SKIP: ' + msg)
    sys.stdout.flush()
    sys.exit(SKIP)


def log(msg):
    print(msg)
    sys.stdout.flush()


class Checks:
    """Collects named assertions; a test fails when any failed."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def check(self, cond, what, detail=''):
        if cond:
            self.passed += 1
            log('  ok    %s' % what)
        else:
            self.failed.append(what)
            log('  FAIL  %s%s' % (what, ('\n        ' + detail.replace('\n', '\n        '))
                                  if detail else ''))
        return bool(cond)

    def eq(self, got, want, what, detail=''):
        return self.check(got == want, '%s: %r (want %r)' % (what, got, want), detail)

    def finish(self):
        log('')
        log('%d passed, %d failed' % (self.passed, len(self.failed)))
        for f in self.failed:
            log('  failed: ' + f)
        return 1 if self.failed else 0


# ---------------------------------------------------------------------------
# arguments, prerequisites, scratch space
# ---------------------------------------------------------------------------

class Tools:
    NAMES = ('netmeta', 'decode', 'gen', 'mock', 'cat', 'proto')

    def __init__(self, argv):
        vals = {}
        i = 1
        while i < len(argv):
            a = argv[i]
            if a.startswith('--') and a[2:] in self.NAMES and i + 1 < len(argv):
                vals[a[2:]] = os.path.abspath(argv[i + 1])
                i += 2
            else:
                print('usage: %s %s' % (argv[0], ' '.join('--%s PATH' % n for n in self.NAMES)))
                sys.exit(2)
        # meson's timeout sends SIGTERM: unwind, so that the finally blocks
        # stop the mock broker and the collector
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        for n in self.NAMES:
            if n not in vals:
                print('missing --%s PATH' % n)
                sys.exit(2)
            if not os.path.exists(vals[n]):
                skip('%s not found (build first)' % vals[n])
            setattr(self, n, vals[n])


def need_programs(*names):
    for n in names:
        if shutil.which(n) is None:
            skip('%s is not installed (Debian package: %s)' % (
                n, {'kcat': 'kcat', 'protoc': 'protobuf-compiler', 'zstd': 'zstd'}.get(n, n)))


def scratch(tag):
    """A temporary directory, removed at the end unless NM_KEEP_SCRATCH is set."""
    d = tempfile.mkdtemp(prefix='nm-export-%s-' % tag)
    log('scratch directory: ' + d)
    return d


def cleanup(d, rc):
    if os.environ.get('NM_KEEP_SCRATCH'):
        log('kept ' + d)
    else:
        shutil.rmtree(d, ignore_errors=True)
        if rc:
            log('(removed %s: NM_KEEP_SCRATCH=1 keeps it)' % d)


def dpdk_usable(tools):
    """(ok, reason): this build has the DPDK backend, and we may run EAL."""
    if os.geteuid() != 0:
        return False, 'the DPDK backend (net_pcap vdev) needs root here'
    d = tempfile.mkdtemp(prefix='nm-export-check-')
    try:
        cfg = write(os.path.join(d, 'check.yaml'), dpdk_config('/dev/null', '  - type: discard\n'))
        r = subprocess.run([tools.netmeta, '--config', cfg, '--check'], capture_output=True,
                           text=True, timeout=30)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    if r.returncode != 0:
        return False, 'netmeta --check with backend dpdk: ' + r.stderr.strip()[-300:]
    return True, ''


def kill_all(procs):
    """SIGKILL each child process still running (a test's finally: none of
    them outlives it), and reap it."""
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def free_port_offset(tries=200):
    """A port offset N with UDP 6343+N, 2055+N and 4739+N all free."""
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(tries):
        off = rnd.randrange(20000, 50000)
        socks = []
        ok = True
        for base in (6343, 2055, 4739):
            s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            try:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                s.bind(('::', base + off))
            except OSError:
                ok = False
            socks.append(s)
        for s in socks:
            s.close()
        if ok:
            return off
    raise RuntimeError('no free port offset')


# ---------------------------------------------------------------------------
# counters
# ---------------------------------------------------------------------------

def parse_counters(text):
    """'NAME value' lines of netmeta's final counters -> {NAME: int or str}."""
    c = {}
    for line in text.splitlines():
        m = re.match(r'^([A-Za-z_][A-Za-z0-9_]*) (\S+)$', line)
        if m:
            v = m.group(2)
            c[m.group(1)] = int(v) if re.match(r'^-?\d+$', v) else v
    return c


def kafka_summary(c, pre='kafka0_'):
    keys = [k for k in c if k.startswith(pre)]
    return ' '.join('%s=%s' % (k[len(pre):], c[k]) for k in keys)


def identity_holds(c, pre='kafka0_'):
    """handed + replayed = delivered + spooled + failed + in_flight, from the
    printed numbers (independently of the printed verdict)."""
    g = lambda k: c.get(pre + k, 0)
    return g('handed') + g('replayed') == g('delivered') + g('spooled') + g('failed') + g('in_flight')


# ---------------------------------------------------------------------------
# the mock broker
# ---------------------------------------------------------------------------

class Mock:
    """netmeta-kafka-mock in its own process; commands through its stdin."""

    def __init__(self, exe, workdir, topics=(), brokers=1, partitions=4):
        self.port_file = os.path.join(workdir, 'mock.port.%d' % random.randrange(1 << 30))
        args = [exe, '--brokers', str(brokers), '--partitions', str(partitions),
                '--port-file', self.port_file]
        for t in topics:
            args += ['--topic', t]
        self.err = open(os.path.join(workdir, 'mock.stderr'), 'ab')
        self.p = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=self.err, bufsize=0)
        line = self.p.stdout.readline().decode()
        m = re.match(r'^bootstrap (\S+)', line)
        if not m:
            self.p.kill()
            raise RuntimeError('netmeta-kafka-mock printed %r' % line)
        self.bootstrap = m.group(1)
        # --port-file is written after the line on stdout
        self.port_file_text = ''
        deadline = time.time() + 5
        while time.time() < deadline:
            if os.path.exists(self.port_file):
                with open(self.port_file) as f:
                    self.port_file_text = f.read().strip()
                if self.port_file_text:
                    break
            time.sleep(0.05)

    def cmd(self, line):
        """Sends one command; returns the mock's answer line."""
        self.p.stdin.write((line + '\n').encode())
        self.p.stdin.flush()
        ans = self.p.stdout.readline().decode().rstrip('\n')
        log('  mock <- %s   -> %s' % (line, ans))
        return ans

    def stop(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write(b'quit\n')
                self.p.stdin.flush()
            except OSError:
                pass
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.err.close()
        return self.p.returncode


# ---------------------------------------------------------------------------
# the collector
# ---------------------------------------------------------------------------

def yaml_str(s):
    return json.dumps(s)


def kafka_sink_yaml(bootstrap, topic='flows', counters_topic=None, spool_dir=None, quota=None,
                    extra=None, props=None):
    lines = ['  - type: kafka', '    brokers: %s' % yaml_str(bootstrap),
             '    topic: %s' % yaml_str(topic)]
    if counters_topic:
        lines.append('    counters_topic: %s' % yaml_str(counters_topic))
    if spool_dir:
        lines.append('    spool:')
        lines.append('      dir: %s' % yaml_str(spool_dir))
        if quota is not None:
            lines.append('      quota: %s' % quota)
    for k, v in (extra or {}).items():
        lines.append('    %s: %s' % (k, v))
    if props:
        lines.append('    properties:')
        for k, v in props.items():
            lines.append('      %s: %s' % (k, yaml_str(str(v))))
    return '\n'.join(lines) + '\n'


def json_sink_yaml(path):
    return '  - type: json\n    path: %s\n' % yaml_str(path)


def file_sink_yaml(path, rotate_bytes=None, rotate_seconds=None, extra=None):
    s = '  - type: file\n    path: %s\n' % yaml_str(path)
    if rotate_bytes is not None:
        s += '    rotate_bytes: %s\n' % rotate_bytes
    if rotate_seconds is not None:
        s += '    rotate_seconds: %s\n' % rotate_seconds
    for k, v in (extra or {}).items():
        s += '    %s: %s\n' % (k, v)
    return s


def dpdk_config(pcap, sinks_yaml, extra='', stats_interval=0):
    return ('backend: dpdk\n'
            'ports: [{device: %s, accept_any_destination: true}]\n'
            'mbuf_size: 9216\n'
            'stats_interval: %d\n'
            '%s'
            'sinks:\n%s') % (yaml_str('net_pcap0,rx_pcap=%s' % pcap), stats_interval, extra,
                              sinks_yaml)


def socket_config(port_offset, sinks_yaml, extra='', stats_interval=0):
    return ('backend: socket\n'
            'bind: "::"\n'
            'listen:\n'
            '  sflow: [%d]\n'
            '  netflow: [%d]\n'
            '  ipfix: [%d]\n'
            'stats_interval: %d\n'
            '%s'
            'sinks:\n%s') % (6343 + port_offset, 2055 + port_offset, 4739 + port_offset,
                              stats_interval, extra, sinks_yaml)


def write(path, text):
    with open(path, 'w') as f:
        f.write(text)
    return path


def run_dpdk(tools, workdir, cfg_text, tag, timeout=120, exit_idle=1):
    """Replays a capture through a net_pcap vdev; -> (rc, stderr, counters)."""
    cfg = write(os.path.join(workdir, 'netmeta-%s.yaml' % tag), cfg_text)
    prefix = 'nmx%s%d' % (tag, os.getpid())
    args = [tools.netmeta, '--no-huge', '-m', '512', '--no-pci', '--file-prefix=' + prefix,
            '-l', '0-1', '--no-telemetry', '--', '--config', cfg, '--exit-idle', str(exit_idle)]
    log('  $ ' + ' '.join(args))
    t0 = time.time()
    try:
        r = subprocess.run(args, capture_output=True, timeout=timeout)
    finally:
        # EAL's runtime directory (~6 MB of a tmpfs per run)
        shutil.rmtree(os.path.join('/var/run/dpdk', prefix), ignore_errors=True)
    err = r.stderr.decode(errors='replace')
    with open(os.path.join(workdir, 'netmeta-%s.stderr' % tag), 'w') as f:
        f.write(err)
    log('  netmeta exit %d after %.1f s' % (r.returncode, time.time() - t0))
    return r.returncode, err, parse_counters(err)


class Daemon:
    """netmeta on the socket backend, stopped with SIGTERM."""

    def __init__(self, tools, workdir, cfg_text, tag):
        self.cfg = write(os.path.join(workdir, 'netmeta-%s.yaml' % tag), cfg_text)
        self.err_path = os.path.join(workdir, 'netmeta-%s.stderr' % tag)
        self.errf = open(self.err_path, 'wb')
        args = [tools.netmeta, '--config', self.cfg]
        log('  $ ' + ' '.join(args))
        self.p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=self.errf)
        self.t0 = time.time()

    def stderr(self):
        with open(self.err_path, errors='replace') as f:
            return f.read()

    def wait_ready(self, ports, timeout=20):
        """Until the socket backend has bound every UDP port of ports (the
        summary on stderr is printed before the sockets exist)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.p.poll() is not None:
                return False
            bound = udp_ports_bound()
            if all(p in bound for p in ports):
                return True
            time.sleep(0.02)
        return False

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=90):
        """SIGTERM; -> (rc, stderr, counters)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        t0 = time.time()
        try:
            self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            log('  netmeta did not stop %d s after SIGTERM: killed' % timeout)
            self.p.kill()
            self.p.wait()
        log('  netmeta exit %d, %.1f s after SIGTERM' % (self.p.returncode, time.time() - t0))
        self.errf.close()
        err = self.stderr()
        return self.p.returncode, err, parse_counters(err)


def udp_rx_queued(ports):
    """Bytes waiting in the receive queues of the UDP sockets on ports."""
    n = 0
    for name in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fl = line.split()
                    if int(fl[1].rsplit(':', 1)[1], 16) in ports:
                        n += int(fl[4].split(':')[1], 16)
        except OSError:
            pass
    return n


def udp_ports_bound():
    """Local UDP ports with a socket, from /proc/net/udp and udp6."""
    ports = set()
    for name in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    local = line.split()[1]
                    ports.add(int(local.rsplit(':', 1)[1], 16))
        except OSError:
            pass
    return ports


def listen_ports(port_offset):
    return [6343 + port_offset, 2055 + port_offset, 4739 + port_offset]


def gen_pcap(tools, path, proto='all', datagrams=600, exporters=3, seed=1, extra=()):
    r = subprocess.run([tools.gen, '--proto', proto, '--datagrams', str(datagrams),
                        '--exporters', str(exporters), '--seed', str(seed), '-o', path] +
                       list(extra), capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError('netmeta-gen: ' + r.stderr)
    return gen_counts(r.stderr)


def gen_counts(text):
    """netmeta-gen's 'generated TYPE datagrams N records M' -> {TYPE: (N, M)}."""
    out = {}
    for m in re.finditer(r'generated (\S+) datagrams (\d+) records (\d+)', text):
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


_GEN_HELP = {}


def gen_has_option(tools, opt):
    if tools.gen not in _GEN_HELP:
        r = subprocess.run([tools.gen, '--help'], capture_output=True, text=True, timeout=10)
        _GEN_HELP[tools.gen] = r.stdout + r.stderr
    return opt in _GEN_HELP[tools.gen]


def gen_udp(tools, port_offset, pps, datagrams, proto='all', exporters=2, seed=1):
    """netmeta-gen --udp to 127.0.0.1: the same datagrams as gen_pcap with the
    same arguments (one datagram per exporter in turn: --burst 1 where the
    generator sends bursts)."""
    args = [tools.gen, '--proto', proto, '--datagrams', str(datagrams), '--exporters',
            str(exporters), '--seed', str(seed), '--udp', '127.0.0.1', '--port-offset',
            str(port_offset), '--pps', str(pps)]
    if gen_has_option(tools, '--burst'):
        args += ['--burst', '1']
    log('  $ ' + ' '.join(args))
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------------------
# records
# ---------------------------------------------------------------------------

def decode_pcap(tools, pcap):
    """netmeta-decode --json -> (flow JSON lines, counter JSON lines)."""
    r = subprocess.run([tools.decode, '--json', pcap], capture_output=True, text=True,
                       timeout=300)
    if r.returncode != 0:
        raise RuntimeError('netmeta-decode: ' + r.stderr)
    return split_kinds(r.stdout.splitlines())


def split_kinds(lines):
    flows, ctrs = [], []
    for l in lines:
        if not l.strip():
            continue
        (ctrs if '"Type":"SFLOW_5_COUNTERS"' in l else flows).append(l)
    return flows, ctrs


def norm(line, drop=()):
    d = json.loads(line)
    for k in DROP_ALWAYS + tuple(drop):
        d.pop(k, None)
    if d.get('Type') == 'SFLOW_5':
        for k in DROP_SFLOW:
            d.pop(k, None)
    return json.dumps(d, sort_keys=True)


def multiset(lines, drop=(), fn=None):
    return collections.Counter(fn(l) if fn else norm(l, drop) for l in lines)


def compare(want, got):
    """Counters of records -> (missing, extra) counts and a short description."""
    missing = want - got
    extra = got - want
    nm, ne = sum(missing.values()), sum(extra.values())
    desc = 'want %d records, got %d: %d missing, %d extra' % (
        sum(want.values()), sum(got.values()), nm, ne)
    for k in list(missing)[:2]:
        desc += '\n  missing e.g. ' + k[:300]
    for k in list(extra)[:2]:
        desc += '\n  extra e.g. ' + k[:300]
    return nm, ne, desc


def duplicates(counter):
    """Occurrences beyond the first of every record."""
    return sum(v - 1 for v in counter.values() if v > 1)


def cat(tools, args, timeout=120):
    """netmeta-cat ARGS -> (rc, stdout lines, stderr, {messages, records, damaged})."""
    r = subprocess.run([tools.cat] + list(args), capture_output=True, timeout=timeout)
    err = r.stderr.decode(errors='replace')
    return r.returncode, r.stdout.decode().splitlines(), err, parse_counters(err)


def read_varint(b, off):
    n = shift = 0
    while True:
        if off >= len(b):
            raise ValueError('varint runs past the end')
        c = b[off]
        off += 1
        n |= (c & 0x7f) << shift
        shift += 7
        if not c & 0x80:
            return n, off
        if shift > 63:
            raise ValueError('varint too long')


def varint(n):
    out = bytearray()
    while True:
        c = n & 0x7f
        n >>= 7
        if n:
            out.append(c | 0x80)
        else:
            out.append(c)
            return bytes(out)


def split_delimited(b):
    """A length-delimited stream -> list of record bytes (ValueError if damaged)."""
    out, off = [], 0
    while off < len(b):
        n, off = read_varint(b, off)
        if n == 0 or off + n > len(b):
            raise ValueError('record of %d bytes at %d runs past the end (%d)' % (n, off, len(b)))
        out.append(b[off:off + n])
        off += n
    return out


def kcat_consume(bootstrap, topic, timeout=60):
    """kcat -C from the beginning to the end -> [(partition, offset, key, value)]."""
    args = ['kcat', '-b', bootstrap, '-C', '-t', topic, '-e', '-o', 'beginning', '-q',
            '-f', '%p %o %K %S\n%k%s']
    r = subprocess.run(args, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError('kcat: rc %d: %s' % (r.returncode, r.stderr.decode(errors='replace')))
    b, off, out = r.stdout, 0, []
    while off < len(b):
        nl = b.index(b'\n', off)
        p, o, klen, vlen = b[off:nl].decode().split(' ')
        klen = 0 if int(klen) < 0 else int(klen)
        vlen = 0 if int(vlen) < 0 else int(vlen)
        off = nl + 1
        key = b[off:off + klen]
        off += klen
        out.append((int(p), int(o), key, b[off:off + vlen]))
        off += vlen
    return out


def records_of_messages(msgs):
    recs = []
    for _p, _o, _k, v in msgs:
        recs.extend(split_delimited(v))
    return recs


def cat_records(tools, workdir, recs, name, counters=False):
    """Raw record bytes -> JSON lines through netmeta-cat (a raw stream file)."""
    path = os.path.join(workdir, name)
    with open(path, 'wb') as f:
        for r in recs:
            f.write(varint(len(r)))
            f.write(r)
    rc, lines, err, c = cat(tools, (['--counters'] if counters else []) + [path])
    if rc != 0:
        raise RuntimeError('netmeta-cat %s: rc %d: %s' % (path, rc, err))
    return lines


def messages_json(tools, workdir, msgs, name):
    """kcat messages -> per message, the JSON of its records (one netmeta-cat run)."""
    per = [split_delimited(v) for _p, _o, _k, v in msgs]
    lines = cat_records(tools, workdir, [r for rs in per for r in rs], name)
    if len(lines) != sum(len(rs) for rs in per):
        raise RuntimeError('netmeta-cat printed %d records for %d' % (len(lines), sum(len(rs) for rs in per)))
    out, i = [], 0
    for rs in per:
        out.append(lines[i:i + len(rs)])
        i += len(rs)
    return out


def unkeyed_messages(tools, workdir, msgs, name):
    """Messages whose key is not the 16-byte address of the one exporter of
    all their records -> descriptions."""
    bad = []
    for (_p, o, key, _v), js in zip(msgs, messages_json(tools, workdir, msgs, name)):
        exps = set(json.loads(l)['SamplerAddress'] for l in js)
        if len(key) != 16 or exps != {addr_text(key)}:
            bad.append('partition %d offset %d: key %r, exporters %s' % (_p, o, key.hex(), sorted(exps)))
    return bad


# ---------------------------------------------------------------------------
# the spool
# ---------------------------------------------------------------------------

SPOOL_MAGIC = b'NMSP'


def spool_segments(d):
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d) if re.match(r'^spool-[0-9a-f]{16}\.nms$', n))


SPOOL_DONE = b'NMSD'
SPOOL_HDR = 44  # export/spool.h: magic, version 2, records, raw, zlen, crc32, flags, key[16]


def spool_entries(path):
    """Walks a segment like the spool's reader -> [(offset, records, raw, zlen, ok)].
    Stops at the first bad entry (the reader skips the rest). The CRC covers the header
    fields after it (records, lengths, flags, key) and the compressed bytes."""
    with open(path, 'rb') as f:
        b = f.read()
    out, off = [], 0
    while off < len(b):
        h = b[off:off + SPOOL_HDR]
        if len(h) < SPOOL_HDR:
            out.append((off, 0, 0, 0, False))
            break
        magic, ver, recs, raw, z, crc = struct.unpack('<4sIIIII', h[:24])
        body = b[off + SPOOL_HDR:off + SPOOL_HDR + z]
        want = zlib.crc32(body, zlib.crc32(h[24:SPOOL_HDR], zlib.crc32(h[8:20])))
        ok = (magic in (SPOOL_MAGIC, SPOOL_DONE) and ver == 2 and len(body) == z and
              want == crc and recs <= raw)
        out.append((off, recs, raw, z, ok))
        if not ok:
            break
        off += SPOOL_HDR + z
    return out


def wait_until(pred, timeout, step=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


# ---------------------------------------------------------------------------
# protoc --decode, as an independent reading of the wire bytes
# ---------------------------------------------------------------------------

def _unescape_c(s):
    out, i = bytearray(), 0
    simple = {'n': 10, 'r': 13, 't': 9, '"': 34, "'": 39, '\\': 92, 'a': 7, 'b': 8, 'f': 12,
              'v': 11, '?': 63}
    while i < len(s):
        ch = s[i]
        if ch != '\\':
            out += ch.encode('latin-1')
            i += 1
            continue
        nx = s[i + 1]
        if nx in '01234567':
            j = i + 1
            while j < len(s) and j < i + 4 and s[j] in '01234567':
                j += 1
            out.append(int(s[i + 1:j], 8) & 0xff)
            i = j
        elif nx == 'x':
            j = i + 2
            while j < len(s) and j < i + 4 and s[j] in '0123456789abcdefABCDEF':
                j += 1
            out.append(int(s[i + 2:j], 16))
            i = j
        else:
            out.append(simple[nx])
            i += 2
    return bytes(out)


def protoc_decode(proto_path, message, raw):
    """protoc --decode=netmeta.MESSAGE -> {field: value or [values]} (raw text values)."""
    r = subprocess.run(['protoc', '--proto_path=' + os.path.dirname(proto_path),
                        '--decode=netmeta.' + message, os.path.basename(proto_path)],
                       input=raw, capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError('protoc: ' + r.stderr.decode(errors='replace'))
    fields = {}
    for line in r.stdout.decode('latin-1').splitlines():
        m = re.match(r'^(\w+): (.*)$', line)
        if not m:
            raise RuntimeError('protoc printed an unexpected line: %r' % line)
        k, v = m.group(1), m.group(2)
        if v.startswith('"'):
            v = _unescape_c(v[1:-1])
        fields.setdefault(k, []).append(v)
    return fields


def addr_text(b):
    """16 address bytes -> the JSON rendering (IPv4-mapped as a.b.c.d)."""
    import ipaddress
    if len(b) != 16:
        return 'BAD(%d bytes)' % len(b)
    a = ipaddress.IPv6Address(b)
    return str(a.ipv4_mapped) if a.ipv4_mapped else str(a)


def _mac_text(v):
    return ':'.join('%02x' % ((v >> (8 * i)) & 0xff) for i in range(5, -1, -1))


def protoc_vs_json(pf, js):
    """Differences between protoc's fields and a JSON record ([] when they agree)."""
    diffs = []
    for k, want in js.items():
        got = pf.get(k)
        if isinstance(want, bool):
            g = got is not None and got[-1] == 'true'
            ok = g == want
        elif isinstance(want, list):
            g = [int(x) for x in got] if got else []
            ok = g == want
        elif isinstance(want, int):
            g = int(got[-1]) if got else 0
            ok = g == want
        elif isinstance(want, str) and k.endswith('Mac'):
            g = _mac_text(int(got[-1])) if got else '00:00:00:00:00:00'
            ok = g == want
        elif isinstance(want, str) and k == 'Type':
            g = got[-1] if got else 'FLOWUNKNOWN'
            ok = g == want
        elif isinstance(want, str) and k == 'NflogPrefix':  # a string: absent when empty
            g = got[-1].decode() if got else ''
            ok = g == want
        elif isinstance(want, str):
            g = addr_text(got[-1]) if got else '::'
            ok = g == want
        else:
            g, ok = got, False
        if not ok:
            diffs.append('%s: protoc %r, JSON %r' % (k, g, want))
    for k in pf:
        if k not in js:
            diffs.append('%s: in protoc output only (%r)' % (k, pf[k]))
    return diffs


def live_norm(line):
    """A record received over loopback, made comparable with netmeta-decode of
    the same datagrams in a capture: exporter 127.0.0.N there is 192.0.2.N
    here, and the source port is the sender's ephemeral one."""
    d = json.loads(line)
    for k in DROP_ALWAYS + ('ExporterPort',):
        d.pop(k, None)
    if d.get('Type') == 'SFLOW_5':
        for k in DROP_SFLOW:
            d.pop(k, None)
    sa = d.get('SamplerAddress', '')
    if sa.startswith('127.0.0.'):
        d['SamplerAddress'] = '192.0.2.' + sa.rsplit('.', 1)[1]
    return json.dumps(d, sort_keys=True)


def one_broker(w, topics):
    """One real Kafka 4 broker (realkafka.py) in w with the topics {name:
    partitions} (replication factor 1); skips the test (77) where it cannot
    start. The caller stops it."""
    import realkafka
    try:
        kc = realkafka.Cluster.start(w, brokers=1)
    except realkafka.Unavailable as e:
        skip(str(e))
    log('1 broker (Kafka 4, KRaft) up in %.1f s: %s' % (kc.start_seconds, kc.bootstrap))
    t0 = time.time()
    try:
        for name, parts in topics.items():
            kc.topic(name, partitions=parts, rf=1)
    except BaseException:
        kc.stop()
        raise
    log('%d topic(s) created in %.1f s' % (len(topics), time.time() - t0))
    return kc

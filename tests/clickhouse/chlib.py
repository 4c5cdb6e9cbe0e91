# SPDX-License-Identifier: BSD-3-Clause
"""
Shared helpers of the 'clickhouse' test suite (Python standard library only):
installing and starting a private ClickHouse server (Debian's 18.16) as a
child process, the collector replaying a capture into Kafka, netmeta-decode,
and the expected values the checks compare with (computed from
netmeta-decode's records, never from ClickHouse).
"""

import collections
import fcntl
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CHDIR = os.path.join(ROOT, 'clickhouse')
APPLY = os.path.join(CHDIR, 'apply')
PACKAGES = ['clickhouse-server', 'clickhouse-client', 'clickhouse-tools']


def skip(msg):
    print('SKIP: ' + msg)
    sys.stdout.flush()
    sys.exit(SKIP)


def log(msg):
    print(msg)
    sys.stdout.flush()


class Checks:
    """Collects named assertions; the test fails when any failed."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def check(self, cond, what, detail=''):
        if cond:
            self.passed += 1
            log('  ok    %s' % what)
        else:
            self.failed.append(what)
            log('  FAIL  %s%s' % (what, ('\n        ' + str(detail).replace('\n', '\n        '))
                                  if detail else ''))
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, '%s: %r (want %r)' % (what, _short(got), _short(want)))

    def finish(self):
        log('')
        log('%d passed, %d failed' % (self.passed, len(self.failed)))
        for f in self.failed:
            log('  failed: ' + f)
        return 1 if self.failed else 0


def _short(v):
    s = repr(v)
    return v if len(s) < 300 else s[:300] + '...'


# ---------------------------------------------------------------------------
# ClickHouse
# ---------------------------------------------------------------------------

def server_binary():
    for p in ('/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'):
        if os.access(p, os.X_OK):
            return p
    return shutil.which('clickhouse-server')


def ensure_installed(need=('server',)):
    """Installs Debian's ClickHouse packages when missing (root only; one
    installer at a time across parallel tests). Skips the test when that
    is not possible."""
    why = old_server_missing(need)
    if why:
        skip(why)


def old_server_missing(need=('server',)):
    """'' when Debian's ClickHouse can run here (installed now with apt-get
    when missing and root), else why not."""
    def have():
        ok = True
        if 'server' in need:
            ok = ok and server_binary() is not None
        if 'format' in need:
            ok = ok and shutil.which('clickhouse-format') is not None
        return ok

    if have():
        return ''
    if os.geteuid() != 0:
        return ('ClickHouse is not installed and this is not root: apt-get install %s'
                % ' '.join(PACKAGES))
    with open(os.path.join(tempfile.gettempdir(), 'netmeta-clickhouse-install.lock'), 'w') as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        if have():
            return ''
        env = dict(os.environ, DEBIAN_FRONTEND='noninteractive')
        log('installing %s with apt-get' % ' '.join(PACKAGES))
        cmd = ['apt-get', 'install', '-y', '-qq', '--no-install-recommends'] + PACKAGES
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            subprocess.run(['apt-get', 'update', '-qq'], env=env, capture_output=True, timeout=600)
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if p.returncode != 0 or not have():
            return 'could not install %s: %s' % (' '.join(PACKAGES), p.stderr.strip()[-400:])
    return ''


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


CONFIG = '''<?xml version="1.0"?>
<yandex>
    <logger>
        <level>information</level>
        <log>{dir}/server.log</log>
        <errorlog>{dir}/error.log</errorlog>
        <console>0</console>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>{http}</http_port>
    <tcp_port>{tcp}</tcp_port>
    <path>{dir}/data/</path>
    <tmp_path>{dir}/tmp/</tmp_path>
    <user_files_path>{dir}/user_files/</user_files_path>
    <format_schema_path>{dir}/format_schemas/</format_schema_path>
    <users_config>{dir}/users.xml</users_config>
    <default_profile>kafka</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mark_cache_size>67108864</mark_cache_size>
    <max_concurrent_queries>20</max_concurrent_queries>
    <kafka>
        <auto_offset_reset>smallest</auto_offset_reset>
        <session_timeout_ms>6000</session_timeout_ms>
        <heartbeat_interval_ms>1000</heartbeat_interval_ms>
    </kafka>
</yandex>
'''

# stream_flush_interval_ms: the Kafka engine writes a block every second
# instead of every 7.5 s; session_timeout_ms (config.xml): a consumer that
# went away without leaving the group (18.16 does not close the consumer of
# a dropped Kafka table) is replaced after 6 s instead of 45 s. Tests wait
# less; production keeps the defaults.
# Profile `kafka` is the server's default_profile, the settings background
# work runs with, the Kafka engine's included: input_format_allow_errors_ratio
# 1 lets 18.16's Kafka engine skip a line that is not JSON (a message of
# another producer) instead of failing the block again and again
# (clickhouse/README.md). The user's own profile keeps inserts strict.
USERS = '''<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <stream_flush_interval_ms>1000</stream_flush_interval_ms>
            <input_format_allow_errors_ratio>0</input_format_allow_errors_ratio>
        </default>
        <kafka>
            <stream_flush_interval_ms>1000</stream_flush_interval_ms>
            <input_format_allow_errors_ratio>1</input_format_allow_errors_ratio>
        </kafka>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
'''


class QueryError(Exception):
    pass


class ClickHouse:
    """A private server: own config, data and ports in dir."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, 'clickhouse')
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None

    def start(self, timeout=120):
        binary = server_binary()
        for _ in range(3):   # a port taken between choosing and binding: retry
            self.http, self.tcp = free_tcp_port(), free_tcp_port()
            with open(os.path.join(self.dir, 'config.xml'), 'w') as f:
                f.write(CONFIG.format(dir=self.dir, http=self.http, tcp=self.tcp))
            with open(os.path.join(self.dir, 'users.xml'), 'w') as f:
                f.write(USERS)
            self.url = 'http://127.0.0.1:%d/' % self.http
            self.out = open(os.path.join(self.dir, 'stdout.log'), 'w')
            self.proc = subprocess.Popen([binary, '--config-file=' + os.path.join(self.dir, 'config.xml')],
                                         stdout=self.out, stderr=subprocess.STDOUT, cwd=self.dir)
            end = time.time() + timeout
            while time.time() < end and self.proc.poll() is None:
                try:
                    if self.query('SELECT 1', fmt=None).strip() == '1':
                        self.version = self.query('SELECT version()', fmt=None).strip()
                        return self
                except (QueryError, OSError):
                    pass
                time.sleep(0.2)
            self.stop()
        raise RuntimeError('clickhouse-server did not start: %s' % self.errors()[-1500:])

    def errors(self):
        out = ''
        for name in ('stdout.log', 'error.log'):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                out += open(p, errors='replace').read()
        return out

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def query(self, sql, fmt='JSONEachRow', data=None):
        """fmt JSONEachRow -> list of dicts (64-bit integers as numbers);
        fmt None -> text. data: bytes sent after the query (INSERT)."""
        params = {'output_format_json_quote_64bit_integers': '0'}
        if data is None:
            body = (sql + (' FORMAT ' + fmt if fmt else '')).encode()
        else:
            params['query'] = sql
            body = data
        req = urllib.request.Request(self.url + '?' + urllib.parse.urlencode(params), data=body,
                                     method='POST')
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                text = r.read().decode('utf-8')
        except urllib.error.HTTPError as e:
            raise QueryError(e.read().decode('utf-8', 'replace').strip().split('\n')[0][:1500]) from None
        if fmt != 'JSONEachRow' or data is not None:
            return text
        return [json.loads(line) for line in text.split('\n') if line.strip()]

    def scalar(self, sql):
        return self.query(sql, fmt=None).strip()


def start_clickhouse(workdir):
    ensure_installed()
    try:
        return ClickHouse(workdir).start()
    except RuntimeError as e:
        skip(str(e))


def run_apply(args, timeout=120):
    """clickhouse/apply ARGS -> (exit status, stdout + stderr)."""
    p = subprocess.run(['/usr/bin/python3', APPLY] + list(args), capture_output=True, text=True,
                       timeout=timeout, env=dict(os.environ, PYTHONDONTWRITEBYTECODE='1'))
    return p.returncode, p.stdout + p.stderr


# ---------------------------------------------------------------------------
# the collector
# ---------------------------------------------------------------------------

_eal_seq = [0]


def kafka_sink(bootstrap, topic, counters_topic, fmt):
    return {'type': 'kafka', 'brokers': bootstrap, 'topic': topic,
            'counters_topic': counters_topic, 'format': fmt}


def run_netmeta(exe, workdir, pcap, bootstrap, tag, topic='flows', counters_topic='counters',
                sinks=None):
    """Replays pcap through a DPDK net_pcap vdev into the sinks (default:
    one Kafka sink in JSON lines, what 18.16 reads), every UDP port of the
    capture listened to as 'auto'. -> (exit status, stderr, counters; a
    counter that is not a number, like kafka0_identity, as its text)."""
    _eal_seq[0] += 1
    ports = udp_dst_ports(pcap)[:16]
    cfg = {'backend': 'dpdk', 'workers': 1,
           'ports': [{'device': 'net_pcap0,rx_pcap=' + pcap, 'accept_any_destination': True}],
           'mbuf_size': 9216,
           'listen': {'auto': ports or [6343]},
           'stats_interval': 0,
           'sinks': sinks or [kafka_sink(bootstrap, topic, counters_topic, 'json')],
           # admission off: a capture's exporters arrive within a second on the wall
           # clock, where netmeta-decode's clock follows the capture (test 'flood')
           'templates': {'admit_source_rate': 0, 'admit_global_rate': 0}}
    path = os.path.join(workdir, tag + '.yaml')
    with open(path, 'w') as f:
        json.dump(cfg, f)   # JSON is YAML
    prefix = 'nmch%d_%d' % (os.getpid(), _eal_seq[0])
    args = [exe, '--no-huge', '-m', '512', '--no-pci', '--file-prefix=' + prefix, '-l', '0-1',
            '--no-telemetry', '--log-level=lib.eal:warning', '--', '--config', path, '--exit-idle', '1']
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(os.path.join('/var/run/dpdk', prefix), ignore_errors=True)
    counters = {}
    for line in p.stderr.splitlines():
        parts = line.split()
        if len(parts) == 2 and re.match(r'^[A-Za-z][A-Za-z0-9_]*$', parts[0]):
            counters[parts[0]] = int(parts[1]) if re.match(r'^-?\d+$', parts[1]) else parts[1]
    return p.returncode, p.stderr, counters


def dpdk_usable(netmeta):
    """'' when this netmeta has the DPDK backend, else why not."""
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, 'c.yaml')
        with open(cfg, 'w') as f:
            json.dump({'backend': 'dpdk', 'ports': [{'device': 'net_null0'}]}, f)
        p = subprocess.run([netmeta, '--config', cfg, '--check'], capture_output=True, timeout=30)
        if p.returncode != 0:
            return (p.stderr.decode().strip().splitlines() or ['netmeta --check failed'])[-1]
    return ''


def decode(exe, pcaps):
    """netmeta-decode --json -> (flow records, counter records)."""
    p = subprocess.run([exe, '--json'] + list(pcaps), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError('netmeta-decode exited %d: %s' % (p.returncode, p.stderr[-500:]))
    flows, ctrs = [], []
    for line in p.stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            (ctrs if r.get('Type') == 'SFLOW_5_COUNTERS' else flows).append(r)
    return flows, ctrs


# ---------------------------------------------------------------------------
# captures
# ---------------------------------------------------------------------------

def read_pcap(path):
    """-> (linktype, [(sec, usec, bytes)]); classic pcap, either byte order."""
    data = open(path, 'rb').read()
    table = {b'\xd4\xc3\xb2\xa1': ('<', 1), b'\xa1\xb2\xc3\xd4': ('>', 1),
             b'\x4d\x3c\xb2\xa1': ('<', 1000), b'\xa1\xb2\x3c\x4d': ('>', 1000)}
    if data[:4] not in table:
        raise ValueError('%s: not a classic pcap file' % path)
    bo, div = table[data[:4]]
    linktype = struct.unpack(bo + 'I', data[20:24])[0] & 0x0fffffff
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(bo + 'IIII', data[off:off + 16])
        out.append((sec, frac // div, data[off + 16:off + 16 + incl]))
        off += 16 + incl
    return linktype, out


def to_ethernet(linktype, frame):
    if linktype == 1:
        return frame
    if linktype == 113 and len(frame) >= 16:   # Linux cooked
        return b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01' + frame[14:16] + frame[16:]
    if linktype == 101 and frame:              # raw IP
        return b'\x02\0\0\0\0\x02\x02\0\0\0\0\x01' + (b'\x86\xdd' if frame[0] >> 4 == 6 else b'\x08\x00') + frame
    return None


def _udp_at(fr):
    """-> (src address bytes, offset of the UDP header) when fr is an
    Ethernet frame holding a UDP header (first fragment), else None."""
    if len(fr) < 14:
        return None
    et, off = struct.unpack('>H', fr[12:14])[0], 14
    for _ in range(4):
        if et not in (0x8100, 0x88a8, 0x9100) or len(fr) < off + 4:
            break
        et, off = struct.unpack('>H', fr[off + 2:off + 4])[0], off + 4
    p = fr[off:]
    if et == 0x0800 and len(p) >= 20 and p[9] == 17:
        ihl = (p[0] & 15) * 4
        if struct.unpack('>H', p[6:8])[0] & 0x1fff == 0 and len(p) >= ihl + 8:
            return p[12:16], off + ihl
    elif et == 0x86dd and len(p) >= 48 and p[6] == 17:
        return p[8:24], off + 40
    return None


def _with_sport(fr, at, port):
    """The frame with UDP source port `port`, checksum updated (RFC 1624;
    a zero IPv4 checksum stays zero)."""
    old = struct.unpack('>H', fr[at:at + 2])[0]
    ck = struct.unpack('>H', fr[at + 6:at + 8])[0]
    if ck:
        s = (~ck & 0xffff) + (~old & 0xffff) + port
        while s >> 16:
            s = (s & 0xffff) + (s >> 16)
        ck = ~s & 0xffff or 0xffff
    return fr[:at] + struct.pack('>H', port) + fr[at + 2:at + 6] + struct.pack('>H', ck) + fr[at + 8:]


def concat_pcaps(paths, out):
    """Writes the frames of every capture, as Ethernet, into one pcap. A
    capture sending from an exporter address and UDP port that an earlier
    one used gets another source port, so template state never mixes
    between captures (many test captures send from 192.0.2.1:50000).
    -> frames written."""
    caps = []
    for p in paths:
        lt, frames = read_pcap(p)
        frames = [(s, u, to_ethernet(lt, fr)) for s, u, fr in frames]
        caps.append([x for x in frames if x[2] is not None])
    used_ports = set()
    for frames in caps:
        for _, _, fr in frames:
            u = _udp_at(fr)
            if u:
                used_ports.add(struct.unpack('>H', fr[u[1]:u[1] + 2])[0])
    used_keys, nxt, n = set(), [21000], 0

    def fresh():
        while nxt[0] in used_ports:
            nxt[0] += 1
        used_ports.add(nxt[0])
        return nxt[0]

    with open(out, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
        for frames in caps:
            keys = set()
            for _, _, fr in frames:
                u = _udp_at(fr)
                if u:
                    keys.add((u[0], struct.unpack('>H', fr[u[1]:u[1] + 2])[0]))
            remap = {}
            for src, sport in sorted(keys):
                if (src, sport) in used_keys and sport not in remap:
                    remap[sport] = fresh()
            used_keys |= {(src, remap.get(sp, sp)) for src, sp in keys}
            for sec, usec, fr in frames:
                u = _udp_at(fr)
                if u and remap:
                    sp = struct.unpack('>H', fr[u[1]:u[1] + 2])[0]
                    if sp in remap:
                        fr = _with_sport(fr, u[1], remap[sp])
                f.write(struct.pack('<IIII', sec, usec, len(fr), len(fr)) + fr)
                n += 1
    return n


def corpus_captures(shared):
    """Captures listed in SHARED/corpus/CATALOG.md, or None without it."""
    cat = os.path.join(shared, 'corpus', 'CATALOG.md')
    if not os.path.isfile(cat):
        return None
    out = []
    for line in open(cat, encoding='utf-8'):
        c = [x.strip() for x in line.strip().strip('|').split('|')]
        if line.startswith('| ') and len(c) >= 9 and c[0].endswith('.pcap'):
            p = os.path.join(shared, 'corpus', c[0])
            if os.path.isfile(p):
                out.append(p)
    return out


# ---------------------------------------------------------------------------
# values as ClickHouse shows them
# ---------------------------------------------------------------------------

def addr_key(text):
    """Address text (the collector's, or ClickHouse's with ::ffff: cut) ->
    a canonical form both sides agree on."""
    ip = ipaddress.ip_address(text)
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def addr_text(text):
    """What `replaceRegexpOne(IPv6NumToString(a), '^::ffff:', '')` prints
    for the collector's address text (dotted quad for IPv4-mapped)."""
    return addr_key(text)


def scaled(r, field):
    return r[field] * r['SamplingRate']


def traffic(recs):
    """Forwarded records (sFlow discards are not traffic)."""
    return [r for r in recs if r.get('DropReason', 0) == 0]


def wait_rows(ch, sql, want, timeout=90):
    """Polls a count query until it reaches want. -> last value."""
    end = time.time() + timeout
    got = None
    while time.time() < end:
        try:
            got = int(ch.scalar(sql))
        except QueryError:
            got = None
        if got is not None and got >= want:
            time.sleep(1.5)   # a late duplicate block would show now
            return int(ch.scalar(sql))
        time.sleep(0.5)
    return got


def udp_dst_ports(pcap):
    """UDP destination ports of the datagrams in a pcap (first fragments)."""
    lt, frames = read_pcap(pcap)
    ports = set()
    for _, _, fr in frames:
        fr = to_ethernet(lt, fr)
        if fr is None or len(fr) < 14:
            continue
        et, off = struct.unpack('>H', fr[12:14])[0], 14
        for _ in range(4):
            if et not in (0x8100, 0x88a8, 0x9100) or len(fr) < off + 4:
                break
            et, off = struct.unpack('>H', fr[off + 2:off + 4])[0], off + 4
        p = fr[off:]
        if et == 0x0800 and len(p) >= 20 and p[9] == 17:
            ihl = (p[0] & 15) * 4
            if struct.unpack('>H', p[6:8])[0] & 0x1fff == 0 and len(p) >= ihl + 4:
                ports.add(struct.unpack('>H', p[ihl + 2:ihl + 4])[0])
        elif et == 0x86dd and len(p) >= 44 and p[6] == 17:
            ports.add(struct.unpack('>H', p[42:44])[0])
    return sorted(ports)


# ---------------------------------------------------------------------------
# the wire format, read independently of the collector's code
# ---------------------------------------------------------------------------

def read_proto(path):
    """-> ({message: [(name, number, type)]}, {enum: {number: name}});
    nested enums give type 'enum:Name', repeated fields 'repeated T'."""
    text = re.sub(r'//[^\n]*', '', open(path, encoding='utf-8').read())
    msgs, enums = {}, {}
    for m in re.finditer(r'message\s+(\w+)\s*\{', text):
        depth, i = 1, m.end()
        while depth:
            depth += {'{': 1, '}': -1}.get(text[i], 0)
            i += 1
        body = text[m.end():i - 1]
        for e in re.finditer(r'enum\s+(\w+)\s*\{([^}]*)\}', body):
            enums[e.group(1)] = {int(v): n for n, v in re.findall(r'(\w+)\s*=\s*(\d+)', e.group(2))}
        body = re.sub(r'enum\s+\w+\s*\{[^}]*\}', '', body)
        fields = []
        for rep, typ, name, num in re.findall(r'(repeated\s+)?(\w+)\s+(\w+)\s*=\s*(\d+)\s*;', body):
            t = 'enum:' + typ if typ in enums else typ
            fields.append((name, int(num), ('repeated ' if rep else '') + t))
        msgs[m.group(1)] = fields
    return msgs, enums


def _varint(b, i):
    x = s = 0
    while True:
        c = b[i]
        i += 1
        x |= (c & 0x7f) << s
        s += 7
        if c < 0x80:
            return x, i


def pb_stream(data):
    """Messages of a varint-length-delimited stream."""
    i = 0
    while i < len(data):
        n, i = _varint(data, i)
        yield data[i:i + n]
        i += n


def pb_decode(msg, fields):
    """One message -> {field name: value} for the fields present (varints
    as ints, bytes as bytes, repeated as lists); unknown fields skipped,
    as ClickHouse's Protobuf format does."""
    by_num = {num: (name, typ) for name, num, typ in fields}
    out, i = {}, 0
    while i < len(msg):
        key, i = _varint(msg, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(msg, i)
        elif wt == 2:
            n, i = _varint(msg, i)
            v, i = msg[i:i + n], i + n
        elif wt == 1:
            v, i = msg[i:i + 8], i + 8
        elif wt == 5:
            v, i = msg[i:i + 4], i + 4
        else:
            raise ValueError('wire type %d' % wt)
        if num not in by_num:
            continue
        name, typ = by_num[num]
        if typ.startswith('repeated'):
            lst = out.setdefault(name, [])
            if wt == 2:
                j = 0
                while j < len(v):
                    x, j = _varint(v, j)
                    lst.append(x)
            else:
                lst.append(v)
        else:
            out[name] = v
    return out


def _uvarint(n):
    out = bytearray()
    while True:
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append(n & 0x7f | 0x80)
        n >>= 7


def rowbinary(rows, columns):
    """rows: list of dicts; columns: [(name, ClickHouse type)] -> RowBinary."""
    packers = {'UInt8': '<B', 'UInt16': '<H', 'UInt32': '<I', 'UInt64': '<Q'}
    out = bytearray()
    for r in rows:
        for name, typ in columns:
            v = r[name]
            if typ in packers:
                out += struct.pack(packers[typ], v)
            elif typ == 'String':
                b = v.encode() if isinstance(v, str) else v
                out += _uvarint(len(b)) + b
            elif typ == 'FixedString(16)':
                out += bytes(v).ljust(16, b'\0')
            elif typ == 'Array(UInt32)':
                out += _uvarint(len(v)) + b''.join(struct.pack('<I', x) for x in v)
            else:
                raise ValueError('no RowBinary writer for %s' % typ)
    return bytes(out)


def addr_bytes(text):
    """The collector's address text -> the 16 wire bytes (IPv4-mapped)."""
    ip = ipaddress.ip_address(text)
    if ip.version == 4:
        ip = ipaddress.IPv6Address('::ffff:' + text)
    return ip.packed


def _serve(argv):
    """chlib.py serve DIR: a private 18.16 server under DIR (the tests'
    config: a free port, the Kafka engine's default_profile), its URL on
    stdout, until SIGINT or SIGTERM, which stop it."""
    if len(argv) != 3 or argv[1] != 'serve':
        print('usage: /usr/bin/python3 tests/clickhouse/chlib.py serve DIR', file=sys.stderr)
        return 2
    why = old_server_missing()
    if why:
        print('chlib.py: ' + why, file=sys.stderr)
        return 1
    ch = ClickHouse(os.path.abspath(argv[2])).start()
    print('ClickHouse %s at %s (data in %s; Ctrl-C or SIGTERM stops it)' % (ch.version, ch.url, ch.dir))
    sys.stdout.flush()
    stop = []
    for s in (signal.SIGINT, signal.SIGTERM):
        signal.signal(s, lambda *_: stop.append(1))
    while not stop and ch.proc.poll() is None:
        signal.pause() if hasattr(signal, 'pause') else time.sleep(1)
    ch.stop()
    return 0


if __name__ == '__main__':
    sys.exit(_serve(sys.argv))

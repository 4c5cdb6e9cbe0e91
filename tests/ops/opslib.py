# SPDX-License-Identifier: BSD-3-Clause
"""
Helpers of the 'ops' test suite (standard library only): free ports, running
netmeta with a config, scraping and parsing its Prometheus text, the final
counters it prints, and mapping one onto the other.
"""

import atexit
import json
import os
import shutil
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

SKIP = 77


def log(msg):
    print(msg)
    sys.stdout.flush()


def skip(msg):
    log('SKIP: ' + msg)
    sys.exit(SKIP)


class Checks:
    """Named assertions; the test fails when any failed."""

    def __init__(self):
        self.failed = []
        self.passed = 0

    def check(self, cond, what, detail=''):
        if cond:
            self.passed += 1
            log('  ok    %s' % what)
        else:
            self.failed.append(what)
            log('  FAIL  %s%s' % (what, ('\n        ' + str(detail).replace('\n', '\n        ')) if detail else ''))
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, '%s: %r (want %r)' % (what, got, want))

    def finish(self):
        log('\n%d passed, %d failed' % (self.passed, len(self.failed)))
        for f in self.failed:
            log('  failed: ' + f)
        return 1 if self.failed else 0


def wait_for(cond, timeout=60, step=0.05):
    """Polls cond() until it is true (returns its value) or the generous
    deadline passes (returns the last value). Only catches a hang."""
    end = time.time() + timeout
    v = cond()
    while not v and time.time() < end:
        time.sleep(step)
        v = cond()
    return v


def free_udp_offset(bases=(6343, 2055, 4739), lo=20000, hi=40000):
    """A port offset such that every base + offset is a free UDP port."""
    rnd = (os.getpid() * 7919) % (hi - lo)
    for k in range(2000):
        off = lo + (rnd + k * 37) % (hi - lo)
        socks = []
        try:
            for b in bases:
                s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                socks.append(s)
                s.bind(('::', b + off))
            return off
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError('no free UDP ports')


def free_tcp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def listen_for(off):
    return {'sflow': 6343 + off, 'netflow': 2055 + off, 'ipfix': 4739 + off}


class Netmeta:
    """One daemon run from a config dict (written as JSON, which is YAML)."""

    def __init__(self, exe, workdir, cfg, tag='nm', args=()):
        self.exe = exe
        self.cfg_path = os.path.join(workdir, tag + '.yaml')
        self.err_path = os.path.join(workdir, tag + '.stderr')
        self.write_cfg(cfg)
        self.args = [exe, '--config', self.cfg_path] + list(args)
        self.proc = None
        self.counters = {}

    def write_cfg(self, cfg):
        self.cfg = cfg
        tmp = self.cfg_path + '.new'
        with open(tmp, 'w') as f:
            json.dump(cfg, f, indent=1)
        os.rename(tmp, self.cfg_path)

    def start(self):
        self.errf = open(self.err_path, 'w')
        self.proc = subprocess.Popen(self.args, stdout=subprocess.DEVNULL, stderr=self.errf)
        return self

    def stderr(self):
        with open(self.err_path, encoding='utf-8', errors='replace') as f:
            return f.read()

    def wait_ready(self, timeout=60):
        return wait_for(lambda: 'netmeta: ready' in self.stderr() or self.proc.poll() is not None,
                        timeout) and self.proc.poll() is None

    def alive(self):
        return self.proc.poll() is None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self.rc = 'killed'
        self.errf.close()
        self.err = self.stderr()
        self.counters = parse_counters(self.err)
        return self

    def rss_kb(self):
        with open('/proc/%d/status' % self.proc.pid) as f:
            for line in f:
                if line.startswith('VmRSS:'):
                    return int(line.split()[1])
        return 0


def parse_counters(err):
    """The final 'NAME VALUE' lines netmeta prints on stderr."""
    c = {}
    for line in err.splitlines():
        m = re.match(r'^([A-Za-z][A-Za-z0-9_]*) (\d+)$', line)
        if m:
            c[m.group(1)] = int(m.group(2))
    return c


def http_get(url, timeout=30, source=None):
    """-> (status, body). source: local address to connect from."""
    if source is None:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()
    m = re.match(r'http://([^:/]+):(\d+)(/.*)', url)
    s = socket.create_connection((m.group(1), int(m.group(2))), timeout=timeout,
                                 source_address=(source, 0))
    s.sendall(('GET %s HTTP/1.0\r\nHost: x\r\n\r\n' % m.group(3)).encode())
    data = b''
    while True:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b'\r\n\r\n')
    return int(head.split()[1]), body.decode()


LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text -> {(name, frozenset(labels)): value}, plus the
    families' TYPE lines. Raises on a malformed line."""
    samples, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith('# TYPE '):
            _, _, name, typ = line.split(' ', 3)
            if name in types:
                raise ValueError('family %s declared twice' % name)
            types[name] = typ
            continue
        if line.startswith('#'):
            continue
        m = LINE.match(line)
        if not m:
            raise ValueError('bad line %r' % line)
        labels = frozenset(LABEL.findall(m.group(3) or ''))
        key = (m.group(1), labels)
        if key in samples:
            raise ValueError('sample given twice: %r' % line)
        samples[key] = float(m.group(4))
    return samples, types


class Scrape:
    def __init__(self, text):
        self.text = text
        self.s, self.types = parse_metrics(text)

    def get(self, name, **labels):
        """Sum over every series of name whose labels include these."""
        want = set((k, str(v)) for k, v in labels.items())
        return sum(v for (n, ls), v in self.s.items() if n == name and want <= ls)

    def series(self, name):
        return [(dict(ls), v) for (n, ls), v in self.s.items() if n == name]

    def workers(self):
        return sorted(set(int(dict(ls)['worker']) for (n, ls) in self.s
                          if n == 'netmeta_rx_packets_total'))


def scrape(port, source=None):
    st, body = http_get('http://127.0.0.1:%d/metrics' % port, source=source)
    if st != 200:
        raise RuntimeError('metrics: HTTP %d' % st)
    return Scrape(body)


WC_OUTCOMES = ['UDP_DATAGRAMS', 'NOT_IP', 'NOT_UDP', 'NOT_FOR_US', 'PORT_UNKNOWN',
               'EXPORTER_DENIED', 'MALFORMED', 'FRAG_HELD', 'FRAG_DROPPED', 'OVERSIZE',
               'ARP_REPLIED', 'ND_REPLIED', 'ICMP_REPLIED']


def metric_of(name):
    """A final counter's name -> (metric name, labels) in the scrape, as
    dataplane/metrics.c names it; None for lines that are not counters."""
    if name in WC_OUTCOMES:
        return 'netmeta_packets_total', {'outcome': name.lower()}
    if name == 'RECORDS_RING_FULL':
        return 'netmeta_records_dropped_total', {'reason': 'ring_full'}
    if name == 'RECORDS_NO_BATCH':
        return 'netmeta_records_dropped_total', {'reason': 'no_batch'}
    if name == 'COUNTERS_SENT':
        return 'netmeta_counter_records_sent_total', {}
    if name == 'COUNTERS_DROPPED':
        return 'netmeta_counter_records_dropped_total', {}
    if name == 'KERNEL_DROPS':
        return 'netmeta_kernel_dropped_datagrams_total', {}
    if re.match(r'^[A-Z_]+$', name):
        return 'netmeta_%s_total' % name.lower(), {}
    if name.startswith('decode_'):
        return 'netmeta_%s_total' % name, {}
    if name.startswith('err_'):
        return 'netmeta_decode_errors_total', {'error': name[4:]}
    if name.startswith('ev_'):
        return 'netmeta_decode_events_total', {'event': name[3:]}
    if name.startswith('sink_'):
        return 'netmeta_%s_total' % name, {}
    m = re.match(r'^([a-z]+\d+)_(.*)$', name)
    if m:
        out, rest = m.group(1), m.group(2)
        if rest.startswith('broker_rtt_us_'):
            return None   # a gauge of librdkafka's statistics window, not a counter
        if rest.startswith('failed_'):
            return 'netmeta_output_failed_by_reason_total', {'output': out, 'reason': rest[7:]}
        if rest in ('in_flight', 'spool_bytes'):
            return 'netmeta_output_' + rest, {'output': out}
        return 'netmeta_output_%s_total' % rest, {'output': out}
    return None


def gen(netmeta_gen, off, args, timeout=300):
    """netmeta-gen to 127.0.0.1 with the port offset; -> datagrams sent."""
    cmd = [netmeta_gen, '--udp', '127.0.0.1', '--port-offset', str(off)] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError('netmeta-gen failed: %s' % r.stderr)
    m = re.search(r'sent (\d+) datagrams', r.stderr + r.stdout)
    return int(m.group(1)) if m else None


def workdir(tag):
    """A temporary folder, removed at exit (kept with NM_KEEP=1)."""
    d = tempfile.mkdtemp(prefix='nmops-%s-' % tag)
    if not os.environ.get('NM_KEEP'):
        atexit.register(shutil.rmtree, d, True)
    return d

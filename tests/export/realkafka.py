# SPDX-License-Identifier: BSD-3-Clause
"""
A real Apache Kafka for the tests (Python standard library only): the
brokers scripts/kafka starts (Kafka 4, KRaft, one JVM per broker, stopped by
PID), their partitions as kcat sees them, and a consumer that keeps each
message's broker timestamp.

    c = Cluster.start(workdir, brokers=3)          # or skip(77) with the reason
    c.topic('flows', partitions=1, rf=3, **{'message.timestamp.type': 'LogAppendTime'})
    i = c.leader('flows'); c.signal(i, 'KILL'); c.restart(i)
    msgs = consume(c.bootstrap, 'flows')           # [Msg(partition, offset, ts_ms, key, value)]
    c.stop()
"""

import collections
import os
import random
import re
import shutil
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SCRIPT = os.path.join(ROOT, 'scripts', 'kafka')

Msg = collections.namedtuple('Msg', 'partition offset ts_ms key value')


class Unavailable(Exception):
    """No real broker on this machine (the reason says why)."""


def prerequisites():
    """'' when scripts/kafka can run here, else why not."""
    for prog, pkg in (('java', 'openjdk-17-jre-headless'), ('kcat', 'kcat')):
        if shutil.which(prog) is None:
            return '%s is not installed (Debian package %s)' % (prog, pkg)
    r = subprocess.run([SCRIPT, 'fetch'], capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        return ('Apache Kafka could not be fetched (scripts/kafka fetch needs maven and Maven '
                'Central): ' + (r.stderr.strip().splitlines() or ['?'])[-1])
    return ''


def _tcp_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port_base(count, tries=200):
    """A base port with count consecutive TCP ports free on 127.0.0.1."""
    rnd = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(tries):
        base = rnd.randrange(20000, 60000 - count)
        if all(_tcp_free(base + i) for i in range(count)):
            return base
    raise Unavailable('no %d free TCP ports in a row' % count)


def _run(args, timeout=300):
    r = subprocess.run([SCRIPT] + list(args), capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError('scripts/kafka %s: %s' % (' '.join(args), r.stderr.strip()[-800:]))
    return r.stdout.strip()


class Cluster:
    """Brokers started by scripts/kafka under one directory."""

    def __init__(self, d, brokers):
        self.dir = d
        self.brokers = brokers
        self.bootstrap = _run(['bootstrap', d])
        self.sasl_bootstrap = _run(['sasl-bootstrap', d]) if os.path.exists(
            os.path.join(d, 'sasl')) else None

    @classmethod
    def start(cls, workdir, brokers=1, props=(), sasl=None, name='kafka'):
        """Formats and starts a cluster under workdir/name; -> Cluster.
        Raises Unavailable when this machine cannot run one."""
        why = prerequisites()
        if why:
            raise Unavailable(why)
        d = os.path.join(workdir, name)
        args = ['start', d, '-n', str(brokers), '-p', str(free_port_base(3 * brokers + 1))]
        for kv in props:
            args += ['-c', kv]
        if sasl:
            args += ['--sasl', sasl]
        t0 = time.time()
        try:
            _run(args, timeout=400)
        except RuntimeError:
            subprocess.run([SCRIPT, 'stop', d], capture_output=True, timeout=120)
            raise
        c = cls(d, brokers)
        c.start_seconds = time.time() - t0
        return c

    def topic(self, name, partitions=1, rf=None, **config):
        args = ['topic', self.dir, name, str(partitions), str(rf or min(3, self.brokers))]
        args += ['%s=%s' % kv for kv in config.items()]
        _run(args, timeout=180)

    def leader(self, topic, partition=0):
        """Index (0..N-1) of the broker leading the partition."""
        return int(_run(['leader', self.dir, topic, str(partition)], timeout=60))

    def pid(self, i):
        with open(os.path.join(self.dir, 'b%d' % i, 'pid')) as f:
            return int(f.read())

    def signal(self, i, sig):
        _run(['signal', self.dir, str(i), sig], timeout=30)

    def signal_all(self, sig):
        for i in range(self.brokers):
            self.signal(i, sig)

    def restart(self, i):
        """Starts broker i again (after a KILL); returns once the cluster answers."""
        _run(['restart', self.dir, str(i)], timeout=400)

    def start_again(self, topics=()):
        """Starts every stopped broker with its data (after stop() or a
        KILL); returns once the cluster answers metadata and every
        partition of the given topics has a leader again."""
        # Seen once in 5 loaded runs (kafka-e2e, 2 tests in parallel and a
        # burning CPU): the broker exited during its restart, its logs not
        # kept then. A port of the stopped broker taken meanwhile by another
        # process would do that. Say why, and try twice more: the broker,
        # not the collector, is what failed here.
        for attempt in range(3):
            try:
                _run(['start', self.dir], timeout=400)
                break
            except RuntimeError as e:
                why = '%s\n%s' % (e, self.errors())
                if 'exited during start-up' not in str(e) or attempt == 2:
                    raise RuntimeError(why)
                print('realkafka: restart failed, once more in 5 s: ' + why, flush=True)
                time.sleep(5)
        for t in topics:
            if wait_leaders(self.bootstrap, t) is None:
                raise RuntimeError('topic %s: partitions without a leader 180 s after the '
                                   'start' % t)

    def status(self):
        return _run(['status', self.dir], timeout=30)

    def stop(self):
        subprocess.run([SCRIPT, 'stop', self.dir], capture_output=True, timeout=120)

    def errors(self, n=8):
        """The last n ERROR / FATAL lines of each broker's log."""
        out = []
        for i in range(self.brokers):
            p = os.path.join(self.dir, 'b%d' % i, 'server.log')
            if os.path.exists(p):
                with open(p, errors='replace') as f:
                    bad = [x for x in f if ' ERROR ' in x or ' FATAL ' in x]
                out.append('broker %d: ' % i + (''.join(bad[-n:]) or 'no ERROR line\n'))
        return ''.join(out)

    def logs_tail(self, n=20):
        out = []
        for i in range(self.brokers):
            for name in ('stdout', 'server.log'):
                p = os.path.join(self.dir, 'b%d' % i, name)
                if os.path.exists(p):
                    with open(p, errors='replace') as f:
                        out.append('broker %d %s: ' % (i, name) + ''.join(f.readlines()[-n:]))
        return '\n'.join(out)


def partitions(bootstrap, topic, props=()):
    """{partition: (leader node id, [replicas], [isr])} as kcat -L reports it."""
    args = ['kcat', '-b', bootstrap, '-L', '-t', topic, '-m', '10']
    for kv in props:
        args += ['-X', kv]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    out = {}
    for m in re.finditer(r'partition (\d+), leader (-?\d+), replicas: ([\d,]*), isrs: ([\d,]*)',
                         r.stdout):
        ids = lambda s: [int(x) for x in s.split(',') if x]
        out[int(m.group(1))] = (int(m.group(2)), ids(m.group(3)), ids(m.group(4)))
    return out


def wait_leaders(bootstrap, topic, timeout=180):
    """Until every partition of the topic has a leader; -> seconds waited or None."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        p = partitions(bootstrap, topic)
        if p and all(lead > 0 for lead, _r, _i in p.values()):
            return time.time() - t0
        time.sleep(0.3)
    return None


def wait_isr(bootstrap, topic, want, timeout=120):
    """Until every partition has want in-sync replicas; -> seconds waited or None."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        p = partitions(bootstrap, topic)
        if p and all(len(isr) >= want for _l, _r, isr in p.values()):
            return time.time() - t0
        time.sleep(0.5)
    return None


def consume(bootstrap, topic, props=(), timeout=120):
    """Every message of a topic from the beginning to the end, by an
    independent consumer (kcat), with the broker's timestamp of each."""
    args = ['kcat', '-b', bootstrap, '-C', '-t', topic, '-e', '-o', 'beginning', '-q',
            '-f', '%p %o %T %K %S\n%k%s']
    for kv in props:
        args += ['-X', kv]
    r = subprocess.run(args, capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError('kcat: rc %d: %s' % (r.returncode, r.stderr.decode(errors='replace')))
    b, off, out = r.stdout, 0, []
    while off < len(b):
        nl = b.index(b'\n', off)
        p, o, ts, klen, vlen = b[off:nl].decode().split(' ')
        klen, vlen = max(0, int(klen)), max(0, int(vlen))
        off = nl + 1
        key = b[off:off + klen]
        off += klen
        out.append(Msg(int(p), int(o), int(ts), key, b[off:off + vlen]))
        off += vlen
    return sorted(out, key=lambda m: (m.partition, m.offset))

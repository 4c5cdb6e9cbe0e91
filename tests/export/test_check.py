#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
`netmeta --check` is a preflight: it refuses every config that start-up
would refuse, and starts nothing (no socket kept, no Kafka connection,
nothing created or written). One case per gap that issue 17 found:

1. a JSON path in a directory that does not exist;
2. a Kafka property librdkafka does not know;
3. a file sink under /proc (root's access() says yes there);
4. a spool directory that cannot be made (its parent is a regular file)
   or sits on /proc;
5. batches x batch_records whose memory is more than the machine has
   (the number of bytes in the message);
6. a key given twice (at the top, in a sink, in a sink's spool mapping),
   refused with its path;
7. topic: "" and broker lists that are no host:port list.

And three the audit of issue 17 found passing --check but refused at
start, which --check now probes (binding and closing at once):

8. a listen port another socket holds (UDP, without share_ports; with
   share_ports: true a netmeta-like holder with SO_REUSEPORT is fine), a
   metrics port another socket listens on, a bind address that is not
   local (192.0.2.77, TEST-NET-1);
9. batches that fit in physical memory but not in RLIMIT_AS (set in the
   child before exec, as `ulimit -v` does);
10. batches above the cgroup's memory limit: cgroup v2 memory.max and v1
   memory.limit_in_bytes, in a private mount namespace whose
   /sys/fs/cgroup is a tmpfs holding the limit file at the process's own
   cgroup path (root and unshare needed; said and left out otherwise: this
   machine's memory controller belongs to the harness, so no real child
   cgroup is made).

Each must exit 1 with the expected reason on its last line, and leave the
scratch directory as it was; a good config with each sink type exits 0 and
creates nothing either (its file sink and spool directories do not exist
afterwards). Then each refused sink config is started for real: start-up
refuses it too, with the same message (check and open cannot disagree).
"""

import os
import resource
import shutil
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403


def run(t, args, timeout=30, wrap=None, pre=None):
    """wrap(argv) -> argv to run instead (a shell around netmeta); pre: a
    preexec_fn (limits set in the child before exec)."""
    argv = [t.netmeta] + args
    try:
        r = subprocess.run(wrap(argv) if wrap else argv, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=timeout, preexec_fn=pre)
        return r.returncode, r.stderr.decode(errors='replace')
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b'').decode(errors='replace')


def tree(d):
    out = []
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


def check_refused(t, ck, w, tag, cfg_text, want, start_too=False, same=lambda l: l, **kw):
    """same(line): what must be equal between --check's and start's lines
    (RLIMIT_AS: the address space mapped may differ by a page)."""
    log('\n== %s' % tag)
    cfg = write(os.path.join(w, '%s.yaml' % tag), cfg_text)
    before = tree(w)
    rc, err = run(t, ['--config', cfg, '--check'], **kw)
    last = err.strip().splitlines()[-1] if err.strip() else ''
    log('  --check exit %s: %s' % (rc, last))
    ck.eq(rc, 1, '%s: --check exit status' % tag)
    ck.check(want in last and last.startswith('netmeta: '), '%s: --check says %r' % (tag, want),
             err.strip()[-800:])
    ck.eq(tree(w), before, '%s: --check created nothing' % tag)
    ck.check('Sanitizer' not in err, '%s: no sanitizer report' % tag, err.strip()[-1500:])
    if start_too:
        rc2, err2 = run(t, ['--config', cfg], **kw)
        last2 = [l for l in err2.splitlines() if want in l]
        ck.check(rc2 not in (None, 0) and last2 and same(last2[-1]) == same(last),
                 '%s: start-up refuses it too, with the same message (exit %s)' % (tag, rc2),
                 err2.strip()[-800:])


def check_rlimit(t, ck, w, mid, limit_as):
    """9: batches that fit in physical memory, not in RLIMIT_AS."""
    check_refused(t, ck, w, 'rlimit-as', mid,
                  'more than the ', start_too=True,
                  same=lambda l: re.sub(r'\d+ mapped already', 'N mapped already',
                                        re.sub(r'more than the \d+', 'more than the N', l)),
                  pre=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as)))
    _, err_r = run(t, ['--config', os.path.join(w, 'rlimit-as.yaml'), '--check'],
                   pre=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as)))
    m = re.search(r'memory: (\d+) bytes needed .* than the (\d+) bytes of address space that '
                  r'RLIMIT_AS leaves \(limit (\d+) bytes, (\d+) mapped already\)', err_r)
    ck.check(m and int(m.group(1)) >= 16384 * 1024 * 500 and int(m.group(3)) == limit_as
             and int(m.group(2)) == limit_as - int(m.group(4)) and 0 < int(m.group(4)) < 2**30,
             'rlimit-as: the message gives the bytes needed, the limit and what is mapped',
             err_r.strip()[-400:])
    rc_n, err_n = run(t, ['--config', os.path.join(w, 'rlimit-as.yaml'), '--check'])
    ck.check(rc_n == 0, 'the same config without the limit passes --check (it fits in '
             'physical memory)', err_n.strip()[-400:])


def main():
    t = Tools(sys.argv)
    ck = Checks()
    w = scratch('check')
    rc = 1
    try:
        plain = write(os.path.join(w, 'plain'), 'a regular file\n')
        off = free_port_offset()
        sc = lambda sinks, extra='': socket_config(off, sinks, extra)

        # 1-4: the outputs' preflight (also run by start-up's open)
        check_refused(t, ck, w, 'json-dir-missing',
                      sc(json_sink_yaml(os.path.join(w, 'missing', 'x.json'))),
                      'sinks[0]: json path: %s: No such file or directory'
                      % os.path.join(w, 'missing', 'x.json'), start_too=True)
        check_refused(t, ck, w, 'kafka-unknown-property',
                      sc(kafka_sink_yaml('127.0.0.1:1', props={'no.such.property': 1})),
                      'sinks[0]: kafka property no.such.property=1: No such configuration property',
                      start_too=True)
        check_refused(t, ck, w, 'file-under-proc', sc(file_sink_yaml('/proc/netmeta-files')),
                      'sinks[0]: file sink path: /proc/netmeta-files: on /proc', start_too=True)
        check_refused(t, ck, w, 'file-is-proc', sc(file_sink_yaml('/proc')),
                      'sinks[0]: file sink path: /proc: on /proc')
        check_refused(t, ck, w, 'spool-under-a-file',
                      sc(json_sink_yaml('-') + kafka_sink_yaml(
                          '127.0.0.1:1', spool_dir=os.path.join(plain, 'spool'))),
                      'sinks[1]: spool.dir: %s/spool: Not a directory' % plain, start_too=True)
        check_refused(t, ck, w, 'spool-under-proc',
                      sc(kafka_sink_yaml('127.0.0.1:1', spool_dir='/proc/netmeta-spool')),
                      'sinks[0]: spool.dir: /proc/netmeta-spool: on /proc')
        # 5: memory that cannot be allocated: refused with the number of bytes
        big = 1048576 * 65536
        check_refused(t, ck, w, 'memory', sc('  - type: discard\n',
                                             'batches: 1048576\nbatch_records: 65536\n'),
                      'netmeta: memory: ', start_too=True)
        rc_m, err_m = run(t, ['--config', os.path.join(w, 'memory.yaml'), '--check'])
        m = re.search(r'memory: (\d+) bytes needed .* than the (\d+) bytes of physical memory',
                      err_m)
        ck.check(m and int(m.group(1)) >= big * 100 and int(m.group(1)) > int(m.group(2)) > 0,
                 'memory: the message gives the bytes needed (>= batches x batch_records x 100) '
                 'and the physical memory', err_m.strip()[-400:])
        # 6: keys given twice, at every level
        check_refused(t, ck, w, 'twice-top', sc('  - type: discard\n', 'ring_size: 64\n'
                                                'ring_size: 128\n'),
                      'ring_size: given twice')
        check_refused(t, ck, w, 'twice-sink',
                      sc(kafka_sink_yaml('127.0.0.1:1', topic='a', extra={'topic': 'b'})),
                      'sinks[0].topic: given twice')
        check_refused(t, ck, w, 'twice-spool',
                      sc(kafka_sink_yaml('127.0.0.1:1', spool_dir=os.path.join(w, 's'),
                                         quota='2MiB') + '      quota: 4MiB\n'),
                      'sinks[0].spool.quota: given twice')
        check_refused(t, ck, w, 'twice-listen',
                      'listen:\n  sflow: [16343]\n  sflow: [16344]\nsinks:\n  - type: discard\n',
                      'listen.sflow: given twice')
        # 7: topic and brokers
        check_refused(t, ck, w, 'write-ahead-no-dir',
                      sc(kafka_sink_yaml('127.0.0.1:1') + '    spool: {write_ahead: true}\n'),
                      'spool.write_ahead needs spool.dir', start_too=True)
        check_refused(t, ck, w, 'topic-empty', sc(kafka_sink_yaml('127.0.0.1:1', topic='')),
                      'sinks[0].topic: empty')
        for i, (brokers, entry) in enumerate((('::::not a broker,,', "entry 1 '::::not a broker'"),
                                              ('k1:9092,,k2:9092', 'entry 2 is empty'),
                                              ('k1:9092,', 'entry 2 is empty'),
                                              ('k1', "entry 1 'k1'"),
                                              ('k1:0', "entry 1 'k1:0'"),
                                              ('k1:65536', "entry 1 'k1:65536'"),
                                              ('::1:9092', "entry 1 '::1:9092'"),
                                              ('[::1:9092', "entry 1 '[::1:9092'"))):
            check_refused(t, ck, w, 'brokers-%d' % i, sc(kafka_sink_yaml(brokers)),
                          'sinks[0].brokers: %s' % entry)

        # 8: sockets start-up binds: a port in use, a metrics port in use, a
        # bind address that is not local (found by binding and closing)
        p_nf = 2055 + off
        held = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        held.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        held.bind(('::', p_nf))
        try:
            check_refused(t, ck, w, 'port-in-use', sc('  - type: discard\n'),
                          'listen: port %d on :: is in use by another process (another netmeta?): '
                          'refused; set share_ports: true to join it on purpose' % p_nf,
                          start_too=True)
            check_refused(t, ck, w, 'port-in-use-shared',
                          sc('  - type: discard\n', 'share_ports: true\n'),
                          'listen: port %d on ::: Address already in use' % p_nf, start_too=True)
        finally:
            held.close()
        # share_ports: true joins a holder that uses SO_REUSEPORT, as netmeta does
        held = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        held.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        held.bind(('::', p_nf))
        try:
            cfg = write(os.path.join(w, 'port-shared-ok.yaml'),
                        sc('  - type: discard\n', 'share_ports: true\n'))
            rc_s, err_s = run(t, ['--config', cfg, '--check'])
            ck.check(rc_s == 0 and 'configuration ok' in err_s,
                     'share_ports: true and a netmeta-like holder (SO_REUSEPORT): --check ok',
                     err_s.strip()[-400:])
            check_refused(t, ck, w, 'port-in-use-reuseport', sc('  - type: discard\n'),
                          'listen: port %d on :: is in use by another process' % p_nf)
        finally:
            held.close()
        mport = None
        lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsn.bind(('127.0.0.1', 0))
        lsn.listen(1)
        mport = lsn.getsockname()[1]
        try:
            check_refused(t, ck, w, 'metrics-port-in-use',
                          sc('  - type: discard\n', 'metrics: {listen: "127.0.0.1:%d"}\n' % mport),
                          'metrics.listen: 127.0.0.1:%d: Address already in use' % mport,
                          start_too=True)
        finally:
            lsn.close()
        check_refused(t, ck, w, 'bind-not-local',
                      sc('  - type: discard\n').replace('bind: "::"', 'bind: "192.0.2.77"'),
                      'listen: port %d on 192.0.2.77: Cannot assign requested address'
                      % (6343 + off), start_too=True)
        # 9: RLIMIT_AS: 16384 x 1024 records (9.7 GB) under a 4 GB address space
        mid = sc('  - type: discard\n', 'batches: 16384\nbatch_records: 1024\n')
        limit_as = 4000000 * 1024
        rc_v, err_v = run(t, ['--version'],
                          pre=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit_as, limit_as)))
        if rc_v != 0 and 'Sanitizer' in err_v:
            log('\n== rlimit-as: left out (a sanitizer build cannot run under RLIMIT_AS: its '
                'shadow memory is terabytes of address space)')
        else:
            check_rlimit(t, ck, w, mid, limit_as)

        # 10: the cgroup's memory limit (v2 memory.max, v1 memory.limit_in_bytes)
        if os.geteuid() != 0 or not shutil.which('unshare'):
            log('\n== cgroup: left out (needs root and unshare for a private /sys/fs/cgroup)')
        else:
            cg = 1 << 30

            def fake_cgroup(kind):
                # the limit on the parent of the process's cgroup (or on it,
                # at the root), "no limit" on its own: the walk up finds it
                if kind == 'v2':
                    own, root, fname, none = ('"s/^0:://p"', '/sys/fs/cgroup', 'memory.max', 'max')
                else:
                    own, root, fname, none = (
                        '"s/^[0-9]*:\\([^:]*,\\)*memory\\(,[^:]*\\)*://p"',
                        '/sys/fs/cgroup/memory', 'memory.limit_in_bytes', '9223372036854771712')
                body = ('p=$(sed -n %s /proc/self/cgroup); [ -n "$p" ] || p=/; '
                        'mkdir -p %s$p && touch /sys/fs/cgroup/cgroup.controllers && '
                        'echo %s > %s$p/%s && echo %d > %s$(dirname $p)/%s'
                        % (own, root, none, root, fname, cg, root, fname))
                return lambda argv: ['unshare', '--mount', 'sh', '-c',
                                     'mount -t tmpfs none /sys/fs/cgroup && %s && exec "$@"' % body,
                                     'sh'] + argv
            for kind, fname in (('v2', 'memory.max'), ('v1', 'memory.limit_in_bytes')):
                check_refused(t, ck, w, 'cgroup-' + kind, mid,
                              "more than the %d bytes of the cgroup's memory limit (" % cg,
                              start_too=True, wrap=fake_cgroup(kind))
                _, err_c = run(t, ['--config', os.path.join(w, 'cgroup-%s.yaml' % kind), '--check'],
                               wrap=fake_cgroup(kind))
                ck.check(re.search(r"memory limit \(/sys/fs/cgroup/\S*%s\)" % re.escape(fname),
                                   err_c), 'cgroup-%s: the message names the file (%s)'
                         % (kind, fname), err_c.strip()[-400:])

        # a good config with every sink type: exit 0, nothing created
        log('\n== good config')
        good = sc(json_sink_yaml(os.path.join(w, 'out.json')) +
                  file_sink_yaml(os.path.join(w, 'files')) +
                  kafka_sink_yaml('[::1]:9092,kafka-1.example:9093,192.0.2.1:1',
                                  spool_dir=os.path.join(w, 'spool')))
        cfg = write(os.path.join(w, 'good.yaml'), good)
        before = tree(w)
        rc_g, err_g = run(t, ['--config', cfg, '--check'])
        ck.eq(rc_g, 0, 'good config: --check exit status', err_g.strip()[-800:])
        ck.check('netmeta: --check: configuration ok' in err_g, 'good config: says ok')
        ck.eq(tree(w), before, 'good config: --check created no file, directory or spool')
        rc = ck.finish()
    finally:
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
`netmeta --check` is a preflight: it refuses every config that start-up
would refuse, and starts nothing (no socket bound, no Kafka connection,
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

Each must exit 1 with the expected reason on its last line, and leave the
scratch directory as it was; a good config with each sink type exits 0 and
creates nothing either (its file sink and spool directories do not exist
afterwards). Then each refused sink config is started for real: start-up
refuses it too, with the same message (check and open cannot disagree).
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403


def run(t, args, timeout=30):
    try:
        r = subprocess.run([t.netmeta] + args, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        return r.returncode, r.stderr.decode(errors='replace')
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b'').decode(errors='replace')


def tree(d):
    out = []
    for root, dirs, files in os.walk(d):
        for n in dirs + files:
            out.append(os.path.relpath(os.path.join(root, n), d))
    return sorted(out)


def check_refused(t, ck, w, tag, cfg_text, want, start_too=False):
    log('\n== %s' % tag)
    cfg = write(os.path.join(w, '%s.yaml' % tag), cfg_text)
    before = tree(w)
    rc, err = run(t, ['--config', cfg, '--check'])
    last = err.strip().splitlines()[-1] if err.strip() else ''
    log('  --check exit %s: %s' % (rc, last))
    ck.eq(rc, 1, '%s: --check exit status' % tag)
    ck.check(want in last and last.startswith('netmeta: '), '%s: --check says %r' % (tag, want),
             err.strip()[-800:])
    ck.eq(tree(w), before, '%s: --check created nothing' % tag)
    ck.check('Sanitizer' not in err, '%s: no sanitizer report' % tag, err.strip()[-1500:])
    if start_too:
        rc2, err2 = run(t, ['--config', cfg])
        last2 = [l for l in err2.splitlines() if want in l]
        ck.check(rc2 not in (None, 0) and last2 and last2[-1] == last,
                 '%s: start-up refuses it too, with the same message (exit %s)' % (tag, rc2),
                 err2.strip()[-800:])


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

#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""
An output that cannot be opened stops netmeta at start, with a message that
names the sink and the reason, before a single packet is taken:

1. a file sink whose path is a regular file (mkdir's EEXIST once let it
   start and lose every record to counted write errors);
2. a file sink under a directory that does not exist;
3. a JSON sink in a directory that does not exist;
4. a Kafka sink whose spool directory is a regular file;
5. a Kafka sink with a property librdkafka refuses;
6. the second of two sinks failing (the first one was opened: it is closed).

Each run must exit non-zero on its own (a run still going after 30 s is
killed and fails), print "netmeta: sinks[I]: ..." with the reason, and
print no counters (the collector never ran). In a sanitizer build the
start-up failure must also leave no leak report.
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from exlib import *  # noqa: E402,F401,F403


def refused(t, ck, w, tag, sinks_yaml, want_sink, want_reason):
    log('\n== %s' % tag)
    cfg = write(os.path.join(w, '%s.yaml' % tag), socket_config(free_port_offset(), sinks_yaml))
    args = [t.netmeta, '--config', cfg]
    log('  $ ' + ' '.join(args))
    try:
        r = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        rc, err = r.returncode, r.stderr.decode(errors='replace')
    except subprocess.TimeoutExpired as e:
        rc, err = None, (e.stderr or b'').decode(errors='replace')
    last = [l for l in err.splitlines() if l.startswith('netmeta: sinks[')]
    log('  exit %s: %s' % (rc, last[0] if last else '(no sink error line)'))
    ck.check(rc is not None, '%s: netmeta stopped on its own (not still running after 30 s)' % tag)
    ck.check(rc not in (None, 0), '%s: exit status non-zero (%s)' % (tag, rc))
    ck.check(len(last) == 1 and last[0].startswith('netmeta: sinks[%d]: ' % want_sink)
             and want_reason in last[0],
             '%s: says sinks[%d] and %r' % (tag, want_sink, want_reason), err.strip()[-800:])
    c = parse_counters(err)
    ck.check('RX_PACKETS' not in c and 'sink_records_written' not in c,
             '%s: no counters printed (the collector never ran)' % tag)
    ck.check('Sanitizer' not in err, '%s: no sanitizer report' % tag, err.strip()[-1500:])


def main():
    t = Tools(sys.argv)
    ck = Checks()
    w = scratch('open')
    rc = 1
    try:
        plain = write(os.path.join(w, 'plain'), 'not a directory\n')
        refused(t, ck, w, 'file-path-is-a-file', file_sink_yaml(plain), 0, 'not a directory')
        refused(t, ck, w, 'file-path-parent-missing',
                file_sink_yaml(os.path.join(w, 'missing', 'files')), 0,
                'No such file or directory')
        refused(t, ck, w, 'json-dir-missing', json_sink_yaml(os.path.join(w, 'missing', 'x.json')),
                0, 'No such file or directory')
        refused(t, ck, w, 'kafka-spool-is-a-file',
                kafka_sink_yaml('127.0.0.1:1', spool_dir=plain, props={'log_level': 0}), 0,
                'spool.dir')
        refused(t, ck, w, 'kafka-bad-property',
                kafka_sink_yaml('127.0.0.1:1', props={'no.such.property': 1}), 0,
                'no.such.property')
        refused(t, ck, w, 'second-sink-fails',
                json_sink_yaml(os.path.join(w, 'first.json')) + file_sink_yaml(plain), 1,
                'not a directory')
        rc = ck.finish()
    finally:
        cleanup(w, rc)
    return rc


if __name__ == '__main__':
    sys.exit(main())

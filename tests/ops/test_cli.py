# SPDX-License-Identifier: BSD-3-Clause
"""
Every installed program: --version and -V print "NAME VERSION" on stdout and
exit 0; --help and -h print the usage on stdout and exit 0 with nothing on
stderr; an unknown option and an option missing its value exit 1 with a
message on stderr and nothing on stdout.

netmeta's operations keys (metrics, log, share_ports): a bad value is an
error naming the key, good values pass --check.

  test_cli.py VERSION PROGRAM...
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import Checks, free_udp_offset  # noqa: E402

# An option of each program that takes a value, to leave it out.
NEEDS_VALUE = {'netmeta': '--config', 'netmeta-decode': '--template-lifetime', 'netmeta-gen': '--udp',
               'netmeta-cat': '--kafka', 'netmeta-kafka-mock': '--topic'}


def run(args):
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout, r.stderr


def main():
    ck = Checks()
    version = sys.argv[1]
    for exe in sys.argv[2:]:
        name = os.path.basename(exe)
        for opt in ('--version', '-V'):
            rc, out, err = run([exe, opt])
            ck.eq((rc, out, err), (0, '%s %s\n' % (name, version), ''), '%s %s' % (name, opt))
        for opt in ('--help', '-h'):
            rc, out, err = run([exe, opt])
            ck.check(rc == 0 and out.startswith('usage: %s' % name) and err == '',
                     '%s %s: usage on stdout, exit 0' % (name, opt), (rc, out[:80], err[:200]))
        rc, out, err = run([exe, '--no-such-option'])
        ck.check(rc == 1 and out == '' and '--no-such-option' in err,
                 '%s --no-such-option: exit 1, said on stderr' % name, (rc, out[:80], err[:200]))
        rc, out, err = run([exe, NEEDS_VALUE[name]])
        ck.check(rc == 1 and out == '' and 'needs a value' in err,
                 '%s %s without its value: exit 1, said on stderr' % (name, NEEDS_VALUE[name]),
                 (rc, out[:80], err[:200]))
    # the operations keys: errors name the key, good values pass --check
    nm = [e for e in sys.argv[2:] if os.path.basename(e) == 'netmeta'][0]
    d = tempfile.mkdtemp(prefix='nmops-cli-')
    cases = [
        ('metrics: {listen: "127.0.0.1"}', 1, "metrics.listen: '127.0.0.1': expected host:port"),
        ('metrics: {listen: "[::1]:0"}', 1, 'metrics.listen: '),
        ('metrics: {max_exporters: 0}', 1, "metrics.max_exporters: '0' is out of range (1..65536)"),
        ('metrics: {colour: red}', 1, 'metrics.colour: unknown key (expected listen, max_exporters)'),
        ('log: {level: loud}', 1, "log.level: 'loud': expected error, warning, info or debug"),
        ('log: {format: xml}', 1, "log.format: 'xml': expected bare, plain or json"),
        ('share_ports: maybe', 1, 'share_ports: expected true or false'),
        ('metrics:\nlog: {level: debug, format: json}\nshare_ports: true', 0,
         'netmeta: metrics on http://127.0.0.1:9464/metrics'),
        ('metrics: {listen: "[::1]:9999", max_exporters: 65536}', 0,
         'netmeta: metrics on http://[::1]:9999/metrics, 65536 exporter series per worker'),
    ]
    # --check binds (and closes) the listen ports: free ones, not the defaults
    off = free_udp_offset()
    ports = 'listen: {sflow: [%d], netflow: [%d], ipfix: [%d]}\n' % (6343 + off, 2055 + off,
                                                                   4739 + off)
    for i, (text, want_rc, want) in enumerate(cases):
        path = os.path.join(d, 'c%d.yaml' % i)
        with open(path, 'w') as f:
            f.write(text + '\n' + ports + 'sinks: [{type: discard}]\n')
        rc, out, err = run([nm, '--config', path, '--check'])
        ck.check(rc == want_rc and want in err, 'config %r: --check exit %d, says %r' % (text, want_rc, want),
                 (rc, err[-300:]))
    shutil.rmtree(d, True)
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main())

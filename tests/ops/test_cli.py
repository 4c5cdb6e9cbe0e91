# SPDX-License-Identifier: BSD-3-Clause
"""
Every installed program: --version and -V print "NAME VERSION" on stdout and
exit 0; --help and -h print the usage on stdout and exit 0 with nothing on
stderr; an unknown option and an option missing its value exit 1 with a
message on stderr and nothing on stdout.

  test_cli.py VERSION PROGRAM...
"""

import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import Checks  # noqa: E402

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
    return ck.finish()


if __name__ == '__main__':
    sys.exit(main())

# SPDX-License-Identifier: BSD-3-Clause
"""
SIGHUP and the outputs (dataplane/main.c, export/sink.c, export/filesink.c).

  rotation NETMETA NETMETA_GEN NETMETA_CAT
      A file sink that rotates every hour and every GiB: under traffic nothing
      is finished. The file changes to rotate_seconds: 1, then SIGHUP: the
      reload says the rotation changed (and nothing needs a restart), and
      while the traffic runs finished files appear, more than one. Then the
      directory changes: reported as needing a restart, the running files
      stay where they were. At exit the files hold every record written:
      netmeta-cat reads them all, undamaged, as many as the sink wrote.
"""

import glob
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import Checks, Netmeta, free_udp_offset, listen_for, log, skip, wait_for, workdir  # noqa: E402


def finished(d):
    return sorted(glob.glob(os.path.join(d, 'flows-*.pb.zst')))


def test_rotation(exe, exe_gen, exe_cat):
    ck = Checks()
    wd = workdir('rotation')
    files = os.path.join(wd, 'files')
    off = free_udp_offset()
    cfg = {'workers': 1, 'listen': listen_for(off), 'stats_interval': 1, 'flush_ms': 50,
           'sinks': [{'type': 'file', 'path': files, 'rotate_seconds': 3600,
                      'rotate_bytes': 1 << 30}]}
    nm = Netmeta(exe, wd, cfg).start()
    if not ck.check(nm.wait_ready(), 'netmeta starts'):
        log(nm.stderr())
        return ck.finish()
    g = subprocess.Popen([exe_gen, '--udp', '127.0.0.1', '--port-offset', str(off), '--proto', 'v9',
                          '--exporters', '2', '--datagrams', '24000', '--pps', '2000'],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ok = wait_for(lambda: glob.glob(os.path.join(files, 'flows-*.tmp')), 60, 0.1)
        ck.check(ok, 'under traffic a file is being written')
        ck.eq(finished(files), [], 'rotating every hour: no file finished yet')
        cfg['sinks'][0]['rotate_seconds'] = 1
        nm.write_cfg(cfg)
        nm.signal(signal.SIGHUP)
        ok = wait_for(lambda: 'file rotation changed' in nm.stderr(), 30)
        ck.check(ok, 'the reload says the file rotation changed',
                 [l for l in nm.stderr().splitlines() if 'reload' in l])
        ck.check('needs a restart' not in nm.stderr(), 'and that nothing needs a restart')
        ok = wait_for(lambda: len(finished(files)) >= 2 or g.poll() is not None, 60, 0.1)
        ck.check(ok and g.poll() is None,
                 'while the traffic runs, files are finished every second (%d so far)' % len(finished(files)))
        # the directory is not a live key
        cfg['sinks'][0]['path'] = os.path.join(wd, 'elsewhere')
        nm.write_cfg(cfg)
        nm.signal(signal.SIGHUP)
        ok = wait_for(lambda: 'sinks changed: needs a restart' in nm.stderr(), 30)
        ck.check(ok, 'a new directory is reported as needing a restart')
        n0 = len(finished(files))
        ok = wait_for(lambda: len(finished(files)) > n0 or g.poll() is not None, 60, 0.1)
        ck.check(ok and not os.path.exists(os.path.join(wd, 'elsewhere')),
                 'the files stay where they were, still rotated every second')
        _, gerr = g.communicate(timeout=300)
        ck.check(g.returncode == 0, 'netmeta-gen sent its datagrams', gerr[-300:])
    finally:
        if g.poll() is None:
            g.kill()
            g.wait()
    nm.stop()
    c = nm.counters
    ck.eq(nm.rc, 0, 'exit status at SIGTERM')
    written = c.get('sink_records_written', 0)
    ck.check(written > 0 and written == c.get('decode_records'),
             'every decoded record reached the sink (%s)' % written)
    ck.eq(c.get('file0_records_lost', 0), 0, 'the file sink lost nothing')
    paths = finished(files)
    ck.eq(glob.glob(os.path.join(files, '*.tmp')), [], 'no unfinished file left at exit')
    r = subprocess.run([exe_cat] + paths, capture_output=True, text=True, timeout=300)
    ck.eq(r.returncode, 0, 'netmeta-cat reads every file, undamaged')
    ck.eq(len(r.stdout.splitlines()), written, 'the files hold every record written (%d files)' % len(paths))
    return ck.finish()


def main():
    mode = sys.argv[1]
    if mode == 'rotation':
        return test_rotation(sys.argv[2], sys.argv[3], sys.argv[4])
    skip('unknown mode ' + mode)


if __name__ == '__main__':
    sys.exit(main())

# SPDX-License-Identifier: BSD-3-Clause
"""
netmeta as a systemd service.

  notify NETMETA
      NOTIFY_SOCKET and WATCHDOG_USEC set as systemd sets them: netmeta says
      READY=1 once its workers run, WATCHDOG=1 at least every half period,
      RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 at SIGTERM.
  unit UNIT.in NETMETA MANDIR
      The hardened unit passes `systemd-analyze verify` (ExecStart pointed at
      the built netmeta, man pages from the build: Documentation=man:
      netmeta(8) is checked too) and every man page renders without a
      warning. Skips when systemd-analyze or man is absent.
  pkgconfig NETMETA_YAML NETMETA
      The packaged /etc/netmeta/netmeta.yaml, its /var/lib/netmeta and
      /var/cache/netmeta moved into a temporary folder, passes --check; it
      turns decoder state on (decoder.<worker> in the state directory) and
      metrics on loopback. Run (ports and metrics port moved to free ones)
      and stopped, it leaves decoder.0, which the next start loads.
  builddeps SRCROOT
      Every dependency() and find_program() the package build needs (the
      meson.build files outside tests/, not required : false; -Dman=enabled)
      is provided by a package that debian/control's Build-Depends names
      (itself or one it depends on, found with dpkg -S on the .pc file or
      program), and every Build-Depends package is in scripts/install-deps,
      with debhelper, fakeroot, dpkg-dev and scdoc for scripts/package.
      Skips without dpkg or pkg-config.
  package SRCROOT
      scripts/package builds the .deb from a clean copy of the tree (about
      1 min here); it holds the five programs, the unit, the config and the
      man pages; unpacked (dpkg-deb -x, not installed), its netmeta prints
      its version and passes --check on its own config (paths moved into a
      temporary folder). Skips without dpkg-buildpackage or the build
      dependencies (dpkg-checkbuilddeps), or outside a git checkout.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from opslib import (Checks, Netmeta, free_tcp_port, free_udp_offset, listen_for, log, skip, wait_for,  # noqa: E402
                    workdir)


def test_notify(exe):
    ck = Checks()
    wd = workdir('notify')
    path = os.path.join(wd, 'notify.sock')
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    srv.bind(path)
    srv.settimeout(0.2)
    got = []

    def drain():
        try:
            while True:
                got.append((time.time(), srv.recv(4096).decode()))
        except socket.timeout:
            pass
        return got

    os.environ['NOTIFY_SOCKET'] = path
    os.environ['WATCHDOG_USEC'] = '4000000'
    off = free_udp_offset()
    nm = Netmeta(exe, wd, {'workers': 2, 'listen': listen_for(off), 'sinks': [{'type': 'discard'}],
                           'stats_interval': 0}).start()
    del os.environ['NOTIFY_SOCKET'], os.environ['WATCHDOG_USEC']
    ck.check(wait_for(lambda: any(m.startswith('READY=1') for t, m in drain()), 60), 'READY=1')
    ck.check(wait_for(lambda: sum(m == 'WATCHDOG=1' for t, m in drain()) >= 3, 60), 'WATCHDOG=1, again and again')
    w = [t for t, m in got if m == 'WATCHDOG=1']
    gaps = [b - a for a, b in zip(w, w[1:])]
    # the period is 4 s and netmeta pings every 2 s: pings further apart than
    # the period would have systemd kill a healthy service (the contract)
    ck.check(gaps and max(gaps) < 4.0, 'pings within the 4 s watchdog period (largest gap %.2f s)' % max(gaps or [0]))
    n = len(got)
    nm.signal(signal.SIGHUP)
    ck.check(wait_for(lambda: any(m == 'READY=1' for t, m in drain()[n:]), 60), 'SIGHUP: RELOADING=1 then READY=1')
    after = [m for t, m in got[n:] if m != 'WATCHDOG=1']
    ck.eq(after[:2], ['RELOADING=1', 'READY=1'], 'reload notifications in order')
    nm.stop()
    drain()
    ck.check(any(m == 'STOPPING=1' for t, m in got), 'STOPPING=1 at SIGTERM')
    ck.eq(nm.rc, 0, 'exit status')
    srv.close()
    return ck.finish()


def test_unit(unit_in, exe, mandir):
    ck = Checks()
    sa = shutil.which('systemd-analyze')
    if sa is None:
        skip('systemd-analyze is not installed (package systemd)')
    if shutil.which('man') is None:
        skip('man is not installed (package man-db)')
    if not os.path.isdir(mandir) or not os.path.exists(os.path.join(mandir, 'netmeta.8')):
        skip('no man pages in %s (scdoc missing at build time)' % mandir)
    wd = tempfile.mkdtemp(prefix='nmops-unit-')
    for sec in ('1', '8'):
        os.makedirs(os.path.join(wd, 'man', 'man' + sec))
    for f in os.listdir(mandir):
        if f[-1] in '18':
            shutil.copy(os.path.join(mandir, f), os.path.join(wd, 'man', 'man' + f[-1], f))
    with open(unit_in) as f:
        text = f.read()
    bindir = os.path.dirname(os.path.abspath(exe))
    unit = os.path.join(wd, 'netmeta.service')
    with open(unit, 'w') as f:
        f.write(text.replace('@BINDIR@', bindir))
    env = dict(os.environ, MANPATH=os.path.join(wd, 'man'))
    r = subprocess.run([sa, 'verify', unit], capture_output=True, text=True, env=env, timeout=120)
    ck.check(r.returncode == 0 and r.stderr.strip() == '', 'systemd-analyze verify netmeta.service: clean',
             r.stdout + r.stderr)
    for key in ('CapabilityBoundingSet=', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'StateDirectory=',
                'Type=notify', 'WatchdogSec=', 'ExecReload='):
        ck.check(key in text, 'the unit sets %s' % key)
    for f in sorted(os.listdir(mandir)):
        if f[-1] not in '18':
            continue
        r = subprocess.run(['man', '--warnings', '-l', os.path.join(mandir, f)], capture_output=True, text=True,
                           env=dict(env, MANWIDTH='80', MAN_KEEP_FORMATTING=''), timeout=60)
        ck.check(r.returncode == 0 and r.stderr.strip() == '' and 'SYNOPSIS' in r.stdout,
                 'man page %s renders without a warning' % f, r.stderr[:400])
    return ck.finish()


def moved_ports(text):
    """The packaged config on free ports: --check binds them (as start-up
    will), and the default ones may be held by something else here."""
    off = free_udp_offset()
    lp = listen_for(off)
    run = text.replace('listen: {sflow: 6343, netflow: 2055, ipfix: 4739}',
                       'listen: {sflow: %d, netflow: %d, ipfix: %d}' % (lp['sflow'], lp['netflow'], lp['ipfix']))
    return run.replace('127.0.0.1:9464', '127.0.0.1:%d' % free_tcp_port())


def test_pkgconfig(yaml, exe):
    ck = Checks()
    wd = workdir('pkgconfig')
    lib, cache = os.path.join(wd, 'lib'), os.path.join(wd, 'cache')
    os.makedirs(lib)
    os.makedirs(cache)
    with open(yaml) as f:
        text = f.read()
    ck.check('/var/lib/netmeta/decoder' in text, 'the packaged config keeps decoder state in /var/lib/netmeta')
    text = text.replace('/var/lib/netmeta', lib).replace('/var/cache/netmeta', cache)
    cfg = os.path.join(wd, 'netmeta.yaml')
    run = moved_ports(text)
    ck.check(run != text and '9464' not in run and '6343,' not in run, 'ports moved for the test')
    with open(cfg, 'w') as f:
        f.write(run)
    r = subprocess.run([exe, '--config', cfg, '--check'], capture_output=True, text=True, timeout=60)
    ck.check(r.returncode == 0 and 'netmeta: --check: configuration ok' in r.stderr,
             'the packaged config passes --check', r.stderr[-600:])
    ck.check('decoder state: %s/decoder.<worker>' % lib in r.stderr, 'it turns decoder state on', r.stderr[-600:])
    # a run (same free ports): the state file is there afterwards and loaded
    for tag in ('first', 'second'):
        nm = Netmeta(exe, wd, {}, tag=tag)
        nm.args = [exe, '--config', cfg, '--log-format', 'plain']
        nm.start()
        ck.check(nm.wait_ready(), '%s run of the packaged config starts' % tag)
        nm.stop()
        ck.eq(nm.rc, 0, '%s run stops cleanly' % tag)
        ck.check('decoder state saved to %s/decoder.0' % lib in nm.err, '%s run saves decoder.0' % tag,
                 nm.err[-600:])
    ck.check('decoder state loaded from %s/decoder.0' % lib in nm.err, 'the second run loads it', nm.err[:2000])
    return ck.finish()


def test_builddeps(root):
    import re
    ck = Checks()
    for tool in ('dpkg', 'dpkg-query', 'pkg-config'):
        if shutil.which(tool) is None:
            skip('%s is not installed' % tool)
    need = []  # ('pc', name) or ('prog', name)
    for d, _, files in os.walk(root):
        rel = os.path.relpath(d, root)
        if rel.split(os.sep)[0] in ('tests', '.git', 'subprojects') or rel.startswith('build'):
            continue
        if 'meson.build' not in files:
            continue
        with open(os.path.join(d, 'meson.build')) as f:
            text = f.read()
        for m in re.finditer(r"(dependency|find_program)\('([^']+)'([^)]*)\)", text):
            kind, name, rest = m.groups()
            # the package builds with -Dtests=disabled: cmocka is not needed
            if 'required : false' in rest or "get_option('tests'" in rest or name == 'threads':
                continue
            need.append(('pc' if kind == 'dependency' else 'prog', name, os.path.join(rel, 'meson.build')))
    ck.check(len(need) >= 10, 'required dependencies found in meson.build files: %d' % len(need), need)
    with open(os.path.join(root, 'debian', 'control')) as f:
        control = f.read()
    bd = re.search(r'^Build-Depends:(.*?)^\S', control, re.S | re.M).group(1)
    build_deps = [re.match(r'\s*([a-z0-9.+-]+)', x).group(1) for x in bd.split(',') if x.strip()]
    covered = {}
    for b in build_deps:
        r = subprocess.run(['dpkg-query', '-W', '-f', '${Depends},${Pre-Depends}', b],
                           capture_output=True, text=True)
        covered[b] = b
        for dep in re.split(r'[,|]', r.stdout):
            dep = re.sub(r'[\s(].*', '', dep.strip()).split(':')[0]
            if dep:
                covered.setdefault(dep, b)
    for kind, name, where in need:
        if kind == 'pc':
            r = subprocess.run(['pkg-config', '--variable=pcfiledir', name], capture_output=True, text=True)
            path = os.path.join(r.stdout.strip(), name + '.pc') if r.returncode == 0 else None
        else:
            path = shutil.which(name)
        if not ck.check(path is not None and os.path.exists(path),
                        '%s %s (%s) is installed here' % (kind, name, where)):
            continue
        r = subprocess.run(['dpkg', '-S', os.path.realpath(path)], capture_output=True, text=True)
        if r.returncode != 0:
            r = subprocess.run(['dpkg', '-S', path], capture_output=True, text=True)
        pkgs = [p.strip().split(':')[0] for p in r.stdout.split(':', 1)[0].split(',')] if r.returncode == 0 else []
        ok = [covered[p] for p in pkgs if p in covered]
        ck.check(ok, '%s %s: package %s is in Build-Depends (as %s)' % (kind, name, pkgs, ok), r.stderr)
    with open(os.path.join(root, 'scripts', 'install-deps')) as f:
        lists = re.findall(r'^pkgs=\((.*?)^\)', f.read(), re.S | re.M)  # the apt-get list
    ck.check(len(lists) == 1, 'scripts/install-deps has one pkgs=( ... ) list')
    inst = set(re.findall(r'[a-z0-9][a-z0-9.+-]+', lists[0] if lists else ''))
    for b in sorted(set(build_deps) | {'debhelper', 'fakeroot', 'dpkg-dev', 'scdoc'}):
        if b == 'debhelper-compat':
            continue
        ck.check(b in inst, 'scripts/install-deps installs %s' % b)
    return ck.finish()


def test_package(root, version):
    import re
    ck = Checks()
    for tool in ('dpkg-buildpackage', 'dpkg-deb', 'dpkg-checkbuilddeps', 'fakeroot', 'git'):
        if shutil.which(tool) is None:
            skip('%s is not installed (scripts/install-deps)' % tool)
    if subprocess.run(['git', '-C', root, 'rev-parse'], capture_output=True).returncode != 0:
        skip('%s is not a git checkout' % root)
    r = subprocess.run(['dpkg-checkbuilddeps'], cwd=root, capture_output=True, text=True)
    if r.returncode != 0:
        skip('build dependencies missing: %s' % r.stderr.strip())
    wd = workdir('package')
    out = os.path.join(wd, 'out')
    t0 = time.time()
    r = subprocess.run([os.path.join(root, 'scripts', 'package'), out], capture_output=True, text=True,
                       timeout=1200)
    log('scripts/package: %.0f s' % (time.time() - t0))
    if not ck.check(r.returncode == 0, 'scripts/package builds the .deb', (r.stdout + r.stderr)[-2000:]):
        return ck.finish()
    debs = [f for f in os.listdir(out) if f.endswith('.deb')]
    ck.eq(debs, ['netmeta_%s_%s.deb' % (version, subprocess.run(['dpkg', '--print-architecture'],
                                                                 capture_output=True, text=True).stdout.strip())],
          'one package, named by version and architecture')
    deb = os.path.join(out, debs[0])
    listing = subprocess.run(['dpkg-deb', '-c', deb], capture_output=True, text=True).stdout
    for path in ['./usr/bin/netmeta', './usr/bin/netmeta-decode', './usr/bin/netmeta-gen', './usr/bin/netmeta-cat',
                 './usr/bin/netmeta-kafka-mock', './lib/systemd/system/netmeta.service', './etc/netmeta/netmeta.yaml',
                 './usr/share/man/man8/netmeta.8.gz', './usr/share/man/man1/netmeta-gen.1.gz',
                 './usr/share/doc/netmeta/netmeta.example.yaml']:
        ck.check(re.search(r' %s(\.gz)?$' % re.escape(path), listing, re.M) is not None, 'the package holds ' + path)
    with open(os.path.join(out, 'build.log')) as f:
        blog = f.read()
    ck.check('-march=native' not in blog, 'no -march=native in the build log')
    x = os.path.join(wd, 'x')
    subprocess.run(['dpkg-deb', '-x', deb, x], check=True)
    exe = os.path.join(x, 'usr', 'bin', 'netmeta')
    r = subprocess.run([exe, '--version'], capture_output=True, text=True)
    ck.eq((r.returncode, r.stdout.strip()), (0, 'netmeta %s' % version), 'the packaged netmeta --version')
    lib, cache = os.path.join(wd, 'lib'), os.path.join(wd, 'cache')
    os.makedirs(lib)
    os.makedirs(cache)
    with open(os.path.join(x, 'etc', 'netmeta', 'netmeta.yaml')) as f:
        text = f.read().replace('/var/lib/netmeta', lib).replace('/var/cache/netmeta', cache)
    cfg = os.path.join(wd, 'netmeta.yaml')
    with open(cfg, 'w') as f:
        f.write(moved_ports(text))
    r = subprocess.run([exe, '--config', cfg, '--check'], capture_output=True, text=True)
    ck.check(r.returncode == 0 and 'netmeta: --check: configuration ok' in r.stderr,
             'the packaged netmeta passes --check on the packaged config', r.stderr[-600:])
    with open(os.path.join(x, 'lib', 'systemd', 'system', 'netmeta.service')) as f:
        unit = f.read()
    ck.check('ExecStart=/usr/bin/netmeta --config /etc/netmeta/netmeta.yaml' in unit,
             'the packaged unit runs /usr/bin/netmeta')
    return ck.finish()


def main():
    if sys.argv[1] == 'package':
        return test_package(sys.argv[2], sys.argv[3])
    if sys.argv[1] == 'builddeps':
        return test_builddeps(sys.argv[2])
    if sys.argv[1] == 'pkgconfig':
        return test_pkgconfig(sys.argv[2], sys.argv[3])
    if sys.argv[1] == 'notify':
        return test_notify(sys.argv[2])
    if sys.argv[1] == 'unit':
        return test_unit(sys.argv[2], sys.argv[3], sys.argv[4])
    skip('unknown mode')


if __name__ == '__main__':
    sys.exit(main())

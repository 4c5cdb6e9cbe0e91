# SPDX-License-Identifier: BSD-3-Clause
"""
Current ClickHouse in process: chDB (PyPI `chdb`, the ClickHouse 26.x engine
as a Python module) with a persistent session directory, behind the same
query()/scalar() interface as chlib.ClickHouse, so the checks written for
the 18.16 server run on it unchanged.

chDB is installed for the `python3` first on PATH (pyenv's here), not for
/usr/bin/python3, which runs the rest of the suite: with_chdb() starts the
test again under an interpreter that can import chdb, or skips.

Traps of chDB 4.4 (engine 26.9.2), found here:
  - format_schema: a relative schema file is looked up in the process's
    working directory (the server setting format_schema_path is not used,
    and neither ?format_schema_path= nor a --config-file changes that):
    chdir into the directory holding flow.proto before the Kafka tables
    read anything.
  - CREATE TABLE ... ENGINE = Kafka raises "Shutdown was called"
    (LOGICAL_ERROR) although the table is created and consumes: the
    process-wide StreamingStorageRegistry (ClickHouse 26.3+) is marked shut
    down in chDB, so StorageKafka::startup() fails at its registration,
    after the consumers are set up. For the same reason a session
    directory holding a Kafka table cannot be opened again (its start-up
    job fails): drop the Kafka tables before closing, or use a fresh
    directory.
  - Not chDB's alone: a Kafka table streams as soon as its first view
    exists, and the schema's views are created one after another. Once,
    under load, two messages already in the topic when the schema was
    applied reached the first views but not the dead-letter views created
    last; applied before anything is in the topic, every view sees every
    message.
"""

import json
import os
import re
import subprocess
import sys
import tempfile
import time

import chlib

REGISTRY_ERROR = 'Shutdown was called'


def with_chdb(optional=False):
    """Returns '' once `import chdb` works in this interpreter; otherwise
    re-executes this script with a python3 on PATH that has it. Where none
    has it: skips, or with optional returns why."""
    try:
        import chdb  # noqa: F401
        return ''
    except ImportError:
        pass
    if os.environ.get('NM_CHDB_REEXEC'):
        why = 'chdb is not importable by %s either' % sys.executable
        if optional:
            return why
        chlib.skip(why)
    cands = []
    for d in os.environ.get('PATH', '').split(os.pathsep):
        p = os.path.join(d, 'python3')
        if os.access(p, os.X_OK) and os.path.realpath(p) != os.path.realpath(sys.executable):
            cands.append(p)
    for p in cands:
        r = subprocess.run([p, '-c', 'import chdb'], capture_output=True, timeout=60)
        if r.returncode == 0:
            env = dict(os.environ, NM_CHDB_REEXEC='1')
            os.execve(p, [p] + sys.argv, env)
    why = 'chdb is not installed for any python3 on PATH (python3 -m pip install chdb==4.4.0)'
    if optional:
        return why
    chlib.skip(why)


class Chdb:
    """A persistent chDB session; query() and scalar() like chlib.ClickHouse."""

    def __init__(self, path, schema_dir):
        from chdb import session
        self.path = path
        # relative format_schema names resolve against the working directory
        os.chdir(schema_dir)
        self.s = session.Session(path)
        self.version = self.scalar('SELECT version()')
        self.query('SET output_format_json_quote_64bit_integers = 0', fmt=None)

    def query(self, sql, fmt='JSONEachRow', data=None):
        if data is not None:
            raise chlib.QueryError('chdblib: INSERT data is not supported')
        try:
            r = self.s.query(sql, fmt or 'TabSeparated')
        except Exception as e:  # chdb raises its own error types
            raise chlib.QueryError(str(e).strip().split('\n')[0][:1500]) from None
        text = r.data() if r is not None else ''
        if fmt != 'JSONEachRow':
            return text
        return [json.loads(line) for line in text.split('\n') if line.strip()]

    def scalar(self, sql):
        return self.query(sql, fmt=None).strip()

    def close(self):
        self.s.close()


def schema_statements(args):
    """clickhouse/apply --print-install ARGS -> [(kind, name, sql)]: a fresh install in
    apply's order (each Kafka table after all its views)."""
    rc, out = chlib.run_apply(['--print-install'] + list(args))
    if rc != 0:
        raise RuntimeError('clickhouse/apply --print-install: ' + out[-500:])
    stmts = []
    for chunk in re.split(r'^-- object: ', out, flags=re.M)[1:]:
        head, _, body = chunk.partition('\n')
        kind, name = head.split()
        stmts.append((kind, name, body.strip().rstrip(';').strip()))
    return stmts


def apply_schema(ch, stmts):
    """Runs every statement as it is. -> (problems, Kafka tables whose
    CREATE raised chDB's registry error yet exist)."""
    problems, quirk = [], []
    for kind, name, sql in stmts:
        try:
            ch.query(sql, fmt=None)
        except chlib.QueryError as e:
            if kind == 'kafka' and REGISTRY_ERROR in str(e):
                quirk.append(name)
                continue
            problems.append('%s %s: %s' % (kind, name, e))
    return problems, quirk


def table_engine(ch, db, table):
    rows = ch.query("SELECT engine FROM system.tables WHERE database = '%s' AND name = '%s'"
                    % (db, table))
    return rows[0]['engine'] if rows else None


def produce(bootstrap, topic, payloads):
    """Writes each payload as one message (kcat: another producer)."""
    for b in payloads:
        with tempfile.NamedTemporaryFile() as f:
            f.write(b)
            f.flush()
            r = subprocess.run(['kcat', '-b', bootstrap, '-P', '-t', topic, f.name],
                               capture_output=True, timeout=60)
            if r.returncode != 0:
                raise RuntimeError('kcat -P: ' + r.stderr.decode(errors='replace'))


def wait_value(fn, want, timeout):
    """Polls fn() until it returns want (or more); -> the last value."""
    end = time.time() + timeout
    v = None
    while time.time() < end:
        try:
            v = fn()
        except chlib.QueryError:
            v = None
        if v is not None and v >= want:
            return v
        time.sleep(0.5)
    return v

# SPDX-License-Identifier: BSD-2-Clause
"""pg_search - search latency of postern-archive over a large PostgreSQL index.

    from pg_search import SearchBench
    sb = SearchBench(build, db, base)    # db: tests/lib/pg.PostgreSQL, started, roles set
    note = sb.prepare(rows)              # None, or why it cannot run
    figures = sb.measure(reps)           # [{"query", "median_ms", "p95_ms", "hits", ...}]

prepare() creates a database of its own (postern_search, owned by
postern_owner, so the delivery-rate runs' index is left alone), runs
`postern-archive db init` in it as postern_owner, and loads ROWS synthetic
deliveries straight into the archive_ tables with generate_series (what
catching up with a journal of that many deliveries would leave, in seconds
instead of hours): one delivery a half minute or so over a year, 50,000
senders, two recipients each out of 100,000, a subject of three words from
a vocabulary of 20,000 (also the full-text document, archive_text as
index_pg.c builds it), then ANALYZE. Columns are filled by name from what
the schema has (information_schema), so a column added later gets a
neutral value instead of breaking the load.

measure() runs `postern-archive -c CONF search --json QUERY` (a new process
each time, as an administrator or a script does: connection and schema
check included) reps times per kind of query, each time with another
value, and reports the median and the 95th percentile of the wall-clock
time, and how many deliveries the queries returned:
    message-id    --message-id ID      (1 hit, a b-tree lookup: the fixed cost
                                        of a search, process and connection)
    sender        --from ADDRESS       (about 20 hits)
    recipient     --to ADDRESS         (about 20 hits)
    subject word  --subject WORD       (substring; about 150 hits: a word of
                                        the upper half of the vocabulary,
                                        w10000..w19999, is part of no other)
    text word     --text WORD          (full text, about 150 hits)
    date range    --since T --until T+1h  (about 110 hits)
"""
import os
import statistics
import subprocess
import time

YEAR = 365 * 86400
T0 = 1735689600                 # 2025-01-01T00:00:00Z: the synthetic year starts here
SENDERS, RECIPIENTS, WORDS = 50000, 100000, 20000


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * p
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


class SearchBench:
    def __init__(self, build, db, base):
        self.binary = os.path.join(build, "bin", "postern-archive")
        self.db = db
        self.base = base
        self.dbname = "postern_search"
        self.conf = os.path.join(base, "search-archive.conf")
        self.rows = 0
        self.load_seconds = None

    def sql(self, sql, user="postern_owner"):
        return self.db.psql(sql, user=user, dbname=self.dbname)

    def columns(self, table):
        """[(name, data_type, nullable, has_default)] of a table, generated
        and identity columns left out."""
        out = self.sql("SELECT column_name, data_type, is_nullable, column_default IS NOT NULL"
                       " OR is_identity = 'YES' FROM information_schema.columns"
                       f" WHERE table_name = '{table}' AND is_generated = 'NEVER'"
                       " ORDER BY ordinal_position")
        return [tuple(line.split("|")) for line in out.splitlines() if line]

    def prepare(self, rows):
        os.makedirs(os.path.join(self.base, "search-archive"), exist_ok=True)
        self.db.psql(f"CREATE DATABASE {self.dbname} OWNER postern_owner", dbname="postgres")
        self.db.psql(f"REVOKE ALL ON DATABASE {self.dbname} FROM PUBLIC;"
                     f" GRANT CONNECT ON DATABASE {self.dbname} TO postern_owner,"
                     " postern_archive, postern_audit, postern_auditor;"
                     " REVOKE CREATE ON SCHEMA public FROM PUBLIC;"
                     " ALTER SCHEMA public OWNER TO postern_owner", dbname=self.dbname)
        with open(self.conf, "w") as f:
            f.write(f"archive_directory = {os.path.join(self.base, 'search-archive')}\n"
                    "index = postgresql\n"
                    f"index_connection = {self.db.conninfo('postern_archive', self.dbname)}\n"
                    "host_name = bench\n")
        r = subprocess.run([self.binary, "-c", self.conf, "db", "init", "--connection",
                            self.db.conninfo("postern_owner", self.dbname)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            return f"postern-archive db init failed: {(r.stdout + r.stderr).strip()[-300:]}"
        t0 = time.monotonic()
        why = self.load(rows)
        self.load_seconds = time.monotonic() - t0
        return why

    def delivery_value(self, name, dtype):
        """The SQL expression (over i, t = delivery time) for one column."""
        text = {
            "id": "to_char(to_timestamp(t) AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')"
                  " || '-' || lpad(to_hex(i), 8, '0')",
            "queue_id": "upper(lpad(to_hex(i), 10, '0'))",
            "sha256": "encode(sha256(i::text::bytea), 'hex')",
            "mta": "'postfix'",
            "host": "'mx' || (i % 3 + 1)",
            "host_name": "'mx' || (i % 3 + 1)",
            "client_addr": "'192.0.2.' || (i % 250 + 1)",
            "client_name": "'client' || (i % 250 + 1) || '.example'",
            "helo": "'client' || (i % 250 + 1) || '.example'",
            "auth": "''",
            "direction": "'inbound'",
            "sender": "'s' || (i % {S}) || '@sender' || (i % {S} % 97) || '.example'",
            "hdr_from": "'Sender <s' || (i % {S}) || '@sender' || (i % {S} % 97) || '.example>'",
            "hdr_to": "'<r' || ((i * 2) % {R}) || '@dest.example>'",
            "hdr_cc": "''",
            "subject": "'w' || (i % {W}) || ' w' || ((i / 7) % {W}) || ' w' || ((i / 13) % {W})",
            "message_id": "'<' || i || '@synthetic.example>'",
            "hdr_date": "to_char(to_timestamp(t) AT TIME ZONE 'UTC',"
                        " 'Dy, DD Mon YYYY HH24:MI:SS +0000')",
            "attachments": "''",
            "journal_file": "to_char(to_timestamp(t) AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '.jsonl'",
            "file": "to_char(to_timestamp(t) AT TIME ZONE 'UTC', 'YYYY-MM-DD') || '.jsonl'",
        }
        number = {"time": "t", "size": "2048 + i % 5000", "stored_size": "900 + i % 2000",
                  "num": "i", "usec": "t * 1000000::bigint", "journal_offset": "i * 400",
                  "offset": "i * 400"}
        fmt = {"S": SENDERS, "R": RECIPIENTS, "W": WORDS}
        if name in number and dtype not in ("text", "character varying"):
            return number[name]
        if name in text:
            expr = text[name].format(**fmt)
            if dtype == "ARRAY":
                return f"ARRAY[{expr}]"
            return expr
        return None

    def neutral(self, dtype):
        return {"text": "''", "character varying": "''", "boolean": "false",
                "ARRAY": "'{}'", "jsonb": "'{}'", "json": "'{}'",
                "bytea": "''::bytea", "tsvector": "''::tsvector"}.get(dtype, "0")

    def load(self, rows):
        cols = self.columns("archive_deliveries")
        if not cols:
            return "no table archive_deliveries after db init"
        names, exprs = [], []
        for name, dtype, nullable, has_default in cols:
            # a column the database fills (a serial number) is left to it
            expr = None if has_default == "t" else self.delivery_value(name, dtype)
            if expr is None:
                if has_default == "t" or nullable == "YES":
                    continue
                expr = self.neutral(dtype)
            names.append(name)
            exprs.append(expr)
        step = YEAR / rows
        self.sql("SET maintenance_work_mem = '256MB';"
                 f" INSERT INTO archive_deliveries ({', '.join(names)})"
                 f" SELECT {', '.join(exprs)} FROM (SELECT i, {T0} + (i * {step})::bigint AS t"
                 f" FROM generate_series(1, {rows}) AS i) AS g")
        # a recipient row names its delivery by number (num); i is read
        # back from the synthetic Message-ID
        rcols = {c[0]: c for c in self.columns("archive_recipients")}
        if not {"delivery", "address"} <= set(rcols):
            return f"archive_recipients has columns {sorted(rcols)}: not understood"
        pos = ", pos" if "pos" in rcols else ""
        self.sql(f"INSERT INTO archive_recipients (delivery{pos}, address)"
                 f" SELECT d.num{', k' if pos else ''},"
                 f" 'r' || ((n * 2 + k) % {RECIPIENTS}) || '@dest.example'"
                 " FROM (SELECT num, split_part(substr(message_id, 2), '@', 1)::bigint AS n"
                 " FROM archive_deliveries WHERE message_id LIKE '%@synthetic.example>')"
                 " AS d, generate_series(0, 1) AS k")
        # the full-text document: the subject (the synthetic messages have
        # no text part), as index_pg.c makes it
        fcols = {c[0] for c in self.columns("archive_fulltext")}
        if fcols:
            if not {"delivery", "doc"} <= fcols:
                return f"archive_fulltext has columns {sorted(fcols)}: not understood"
            self.sql("INSERT INTO archive_fulltext (delivery, doc)"
                     " SELECT num, strip(to_tsvector('archive_text', subject))"
                     " FROM archive_deliveries WHERE message_id LIKE '%@synthetic.example>'")
        self.sql("ANALYZE")
        self.rows = int(self.sql("SELECT count(*) FROM archive_deliveries").strip())
        return None

    def queries(self, reps):
        """(kind, [argv tail] x reps), each with another value."""
        out = []
        step = max(1, self.rows // reps)
        for kind in ("message-id", "sender", "recipient", "subject word", "text word",
                     "date range"):
            qs = []
            for n in range(reps):
                i = 1 + n * step + n
                if kind == "message-id":
                    qs.append(["--message-id", f"<{i}@synthetic.example>"])
                elif kind == "sender":
                    qs.append(["--from", f"s{i % SENDERS}@sender{i % SENDERS % 97}.example"])
                elif kind == "recipient":
                    qs.append(["--to", f"r{(i * 7) % RECIPIENTS}@dest.example"])
                elif kind == "subject word":
                    qs.append(["--subject", f"w{WORDS // 2 + (i * 11) % (WORDS // 2)}"])
                elif kind == "text word":
                    qs.append(["--text", f"w{WORDS // 2 + (i * 13) % (WORDS // 2)}"])
                else:
                    start = T0 + (i * 3571) % (YEAR - 7200)
                    qs.append(["--since", f"@{start}", "--until", f"@{start + 3600}"])
            out.append((kind, qs))
        return out

    def measure(self, reps):
        figures = []
        for kind, qs in self.queries(reps):
            times, hits, errors = [], [], []
            for q in qs:
                t0 = time.monotonic()
                r = subprocess.run([self.binary, "-c", self.conf, "search", "--json"] + q,
                                   capture_output=True, text=True, timeout=120)
                times.append((time.monotonic() - t0) * 1000)
                if r.returncode not in (0, 1):
                    errors.append(f"{' '.join(q)}: exit {r.returncode}: {r.stderr.strip()[-200:]}")
                hits.append(sum(1 for line in r.stdout.splitlines() if line.strip()))
            figures.append({"query": kind, "runs": len(times),
                            "median_ms": round(statistics.median(times), 1),
                            "p95_ms": round(percentile(times, 0.95), 1),
                            "max_ms": round(max(times), 1),
                            "median_hits": statistics.median(hits),
                            "example": " ".join(qs[0]), "errors": errors[:3]})
        return figures

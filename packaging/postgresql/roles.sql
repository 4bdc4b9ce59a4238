-- SPDX-License-Identifier: BSD-2-Clause
-- Roles and database for Postern's shared archive index and audit store.
-- Run once, as a PostgreSQL superuser (psql -U postgres -f roles.sql);
-- nothing of Postern needs a superuser afterwards.
--
--   postern_owner    owns the database and the tables: runs
--                    `postern-archive db init|upgrade` and
--                    `postern-audit db init|upgrade`, nothing else
--   postern_archive  the archive daemons and tools on every MX host:
--                    feed the index, search, hold, prune
--   postern_audit    the audit daemons: ship their trail records
--   postern_auditor  compliance staff: read only (search, export,
--                    verify against the database)
--
-- Give each login role a password (\password NAME) or map it from a
-- local user in pg_hba.conf (peer); `db init` grants each role exactly
-- what it needs on the tables it creates.
CREATE ROLE postern_owner LOGIN;
CREATE ROLE postern_archive LOGIN;
CREATE ROLE postern_audit LOGIN;
CREATE ROLE postern_auditor LOGIN;
CREATE DATABASE postern OWNER postern_owner;
REVOKE ALL ON DATABASE postern FROM PUBLIC;
GRANT CONNECT ON DATABASE postern
      TO postern_owner, postern_archive, postern_audit, postern_auditor;
\connect postern
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
ALTER SCHEMA public OWNER TO postern_owner;

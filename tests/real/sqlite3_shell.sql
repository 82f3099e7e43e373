-- Run by the sqlite3 command-line shell under refsan (run_real.py, case
-- sqlite3-shell): statements, a failing statement, a transaction, an
-- attached database, the shell's own dot-commands (which prepare and
-- finalize statements of their own) and an online backup (.backup and
-- .restore use sqlite3_backup_init/step/finish).
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, data BLOB);
INSERT INTO t(name, data) VALUES ('a', zeroblob(100)), ('b', randomblob(64)), ('c', NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500)
  INSERT INTO t(name) SELECT 'row' || i FROM n;
BEGIN;
UPDATE t SET name = upper(name) WHERE id % 7 = 0;
DELETE FROM t WHERE id % 11 = 0;
COMMIT;
SELECT count(*), sum(length(name)) FROM t;
SELECT * FROM no_such_table;
CREATE INDEX t_name ON t(name);
SELECT name FROM t WHERE name LIKE 'ROW7%' ORDER BY id LIMIT 3;
ATTACH DATABASE ':memory:' AS aux;
CREATE TABLE aux.u AS SELECT id, name FROM t WHERE id < 50;
SELECT count(*) FROM aux.u;
DETACH DATABASE aux;
.tables
.schema t
.indexes
.backup main @BACKUP@
.restore main @BACKUP@
SELECT count(*) FROM t;
.dump t

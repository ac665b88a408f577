-- Workload behind the *.hex fixtures. Run it through capture.sh, which creates
-- a fresh database, runs this file, then peeks the slot 'fx' (text and binary
-- tuple formats) and streams it over a replication connection.
-- Needs PostgreSQL 15, wal_level=logical, and a superuser (replication origins).
\set ON_ERROR_STOP on

CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');

-- Replica identity DEFAULT (primary key), typmods, a custom enum (-> Type message).
CREATE TABLE users (
    id    int PRIMARY KEY,
    name  text NOT NULL,
    email varchar(64),
    mood  mood,
    score numeric(10,2)
);

-- Replica identity FULL: Update/Delete carry the whole old row ('O').
CREATE TABLE audit (id int, note text);
ALTER TABLE audit REPLICA IDENTITY FULL;

-- EXTERNAL storage keeps the big body out of line and uncompressed, so an
-- update that does not touch it sends it as unchanged TOAST ('u').
CREATE TABLE docs (id int PRIMARY KEY, title text, body text);
ALTER TABLE docs ALTER COLUMN body SET STORAGE EXTERNAL;

-- Replica identity USING INDEX, in a non-public schema.
CREATE SCHEMA app;
CREATE TABLE app.keyed (id int NOT NULL, code text NOT NULL, val text);
CREATE UNIQUE INDEX keyed_code ON app.keyed (code);
ALTER TABLE app.keyed REPLICA IDENTITY USING INDEX keyed_code;

-- Replica identity NOTHING: only inserts are allowed while it is published.
CREATE TABLE nokey (a int, b text);
ALTER TABLE nokey REPLICA IDENTITY NOTHING;

CREATE PUBLICATION pub FOR TABLE users, audit, docs, app.keyed, nokey;
SELECT pg_replication_origin_create('upstream');
SELECT pg_create_logical_replication_slot('fx', 'pgoutput');

-- Everything below is decoded.
BEGIN;
INSERT INTO users VALUES (1, 'alice', 'alice@example.com', 'happy', 12.50),
                         (2, 'bob', NULL, NULL, NULL);
COMMIT;

UPDATE users SET name = 'Alice', mood = 'ok' WHERE id = 1;  -- key unchanged: no old tuple
UPDATE users SET id = 3 WHERE id = 2;                       -- key changed: 'K'
DELETE FROM users WHERE id = 3;                             -- 'K'

INSERT INTO audit VALUES (10, 'created');
UPDATE audit SET note = 'edited' WHERE id = 10;             -- 'O'
DELETE FROM audit WHERE id = 10;                            -- 'O'

INSERT INTO docs VALUES (1, 'draft', repeat('lorem ipsum ', 1000));
UPDATE docs SET title = 'final' WHERE id = 1;               -- body is 'u'

INSERT INTO app.keyed VALUES (1, 'a', 'x');
UPDATE app.keyed SET code = 'b' WHERE code = 'a';           -- 'K' with only code set
DELETE FROM app.keyed WHERE code = 'b';

INSERT INTO nokey VALUES (1, 'no identity'), (2, 'ünïcödé ✓');

TRUNCATE audit, nokey RESTART IDENTITY CASCADE;             -- one 'T', options 3
TRUNCATE docs;                                              -- options 0

BEGIN;
SELECT pg_logical_emit_message(true, 'swallow', 'transactional payload');
INSERT INTO users VALUES (4, 'dave', NULL, 'sad', 0);
COMMIT;
SELECT pg_logical_emit_message(false, 'swallow', 'non-transactional payload');

-- Replayed-from-upstream transaction: Begin is followed by an Origin message.
SELECT pg_replication_origin_session_setup('upstream');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/DEADBEEF', now());
INSERT INTO users VALUES (5, 'eve', NULL, NULL, NULL);
COMMIT;
SELECT pg_replication_origin_session_reset();

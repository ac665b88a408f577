-- The transforms workload (issue 17: column masking and flattened records): tables with text, varchar(n),
-- char(n), unbounded varchar, bytea and numeric columns; inserts (NULLs, non-ASCII text), updates, a key
-- change, deletes (REPLICA IDENTITY FULL and DEFAULT) and a transactional logical message; two rows
-- exist before the connector starts (snapshot records). Runs:
-- transforms.masking (masks, schemas on), transforms.flatten (ExtractNewRecordState, rewrite mode, no
-- schemas), transforms.maskflat (both, tombstone mode, schemas on).
CREATE TABLE public.customers (
    id integer PRIMARY KEY,
    email text,
    name varchar(12),
    code char(6),
    phone varchar,
    notes text,
    photo bytea,
    balance numeric(10,2),
    region text
);
ALTER TABLE public.customers REPLICA IDENTITY FULL;
CREATE TABLE public.visits (
    id integer PRIMARY KEY,
    customer text,
    note varchar(20),
    region text
);
-- Rows before the stream starts: both connectors snapshot them (op "r").
INSERT INTO public.customers VALUES (100, 'old@example.com', 'Old Timer', 'OLD', '555', 'snapshotted row', '\xdeadbeef', 1.00, 'app.eu');
INSERT INTO public.visits VALUES (100, 'old', 'snapshotted visit', NULL);
-- changes
INSERT INTO public.customers VALUES (1, 'ann@example.com', 'Ann Smith', 'AB12', '+1 555 0100', 'first customer, long note', '\x0102030405060708', 12.50, 'app.eu');
INSERT INTO public.customers VALUES (2, NULL, 'Bob', NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO public.customers VALUES (3, 'zoe@example.com', 'Zoe Quinn-Lo', 'ZZ9', '0044', 'Zoë naïve 名前 notes', '\x00ff', -7.25, 'app.us');
UPDATE public.customers SET email = 'ann@new.example', notes = 'changed' WHERE id = 1;
UPDATE public.customers SET id = 10 WHERE id = 2;
DELETE FROM public.customers WHERE id = 3;
INSERT INTO public.visits VALUES (1, 'ann', 'first visit, morning', 'app.eu');
INSERT INTO public.visits VALUES (2, 'bob', 'short', NULL);
UPDATE public.visits SET note = 'second' WHERE id = 1;
DELETE FROM public.visits WHERE id = 2;
BEGIN;
INSERT INTO public.visits VALUES (3, 'zoe', 'in a transaction', 'app.us');
SELECT pg_logical_emit_message(true, 'audit', 'visit 3');
COMMIT;

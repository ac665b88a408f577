-- Golden workload: every type and edge of Debezium's PostgreSQL format that Swallow maps.
-- The part before "-- changes" creates the schema (before the slot exists); the part after it makes the
-- changes whose events are compared with the expected files next to this script.

CREATE EXTENSION hstore;
CREATE EXTENSION citext;
CREATE EXTENSION ltree;
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_price AS numeric(8,2) CHECK (VALUE > 0);

CREATE TABLE all_types (
    id int PRIMARY KEY,
    c_int2 int2, c_int4 int4, c_int8 int8, c_oid oid,
    c_float4 float4, c_float8 float8,
    c_numeric numeric(10,2), c_numeric_var numeric, c_money money,
    c_bool bool,
    c_char char(3), c_varchar varchar(10), c_text text, c_citext citext, c_name name,
    c_bytea bytea, c_uuid uuid, c_json json, c_jsonb jsonb, c_xml xml,
    c_date date, c_time time, c_time3 time(3), c_timetz timetz,
    c_timestamp timestamp, c_timestamp3 timestamp(3), c_timestamptz timestamptz, c_timestamptz0 timestamptz(0),
    c_interval interval,
    c_bit1 bit(1), c_bit bit(12), c_varbit varbit,
    c_inet inet, c_cidr cidr, c_macaddr macaddr,
    c_int4range int4range, c_tstzrange tstzrange,
    c_int_array int[], c_text_array text[], c_matrix int[][], c_numeric_array numeric(6,2)[],
    c_enum mood, c_enum_array mood[], c_domain positive_price,
    c_hstore hstore, c_ltree ltree
);

-- Unchanged TOASTed values: stored out of line without compression so that 5 kB is enough.
CREATE TABLE docs (id int PRIMARY KEY, body text, labels text[], counts int[], n int);
ALTER TABLE docs ALTER body SET STORAGE EXTERNAL, ALTER labels SET STORAGE EXTERNAL, ALTER counts SET STORAGE EXTERNAL;

-- Replica identities.
CREATE TABLE ident_full (id int PRIMARY KEY, v text);
ALTER TABLE ident_full REPLICA IDENTITY FULL;
CREATE TABLE ident_full_unique (code text NOT NULL UNIQUE, v text);
ALTER TABLE ident_full_unique REPLICA IDENTITY FULL;
CREATE TABLE ident_index (code text NOT NULL, v text);
CREATE UNIQUE INDEX ident_index_code ON ident_index (code);
ALTER TABLE ident_index REPLICA IDENTITY USING INDEX ident_index_code;
CREATE TABLE ident_nothing (id int PRIMARY KEY, v text);
ALTER TABLE ident_nothing REPLICA IDENTITY NOTHING;
CREATE TABLE pk_order (a int, b text, v text, PRIMARY KEY (b, a));
CREATE TABLE nokey (v text);
-- No key at all, but the whole old row: deletes have a before image and a null key.
CREATE TABLE nokey_full (v text);
ALTER TABLE nokey_full REPLICA IDENTITY FULL;
-- REPLICA IDENTITY DEFAULT with NOT NULL columns outside the key: a delete's old row carries the key
-- columns only, and the others are still required fields of the row schema.
CREATE TABLE strict_row (id int PRIMARY KEY, n int NOT NULL, big bigint NOT NULL, t text NOT NULL, ok bool NOT NULL,
    price numeric(6,2) NOT NULL, amount numeric NOT NULL, ratio float8 NOT NULL, day date NOT NULL,
    at timestamptz NOT NULL, local timestamp NOT NULL, raw bytea NOT NULL, uid uuid NOT NULL, doc jsonb NOT NULL,
    nums int[] NOT NULL, span interval NOT NULL, feel mood NOT NULL, small int2 NOT NULL, single float4 NOT NULL,
    cash money NOT NULL, flag bit(1) NOT NULL, bits bit(3) NOT NULL, tm time NOT NULL, tmz timetz NOT NULL,
    at3 timestamptz(3) NOT NULL, hs hstore NOT NULL, ip inet NOT NULL, r int4range NOT NULL, ci citext NOT NULL,
    ch char(3) NOT NULL, tree ltree NOT NULL, labels text[] NOT NULL);
-- Changes applied through a replication origin (as a logical replication subscriber applies them).
CREATE TABLE replicated (id int PRIMARY KEY, v text);

-- Schema changes while streaming.
CREATE TABLE evolve (id int PRIMARY KEY, a text);

-- Quoted identifiers, as EF Core and many tools create them: mixed case, spaces, non-ASCII. (Not a double
-- quote inside a name: Debezium 3.6.3 cannot snapshot such a table, "relation ... does not exist".)
CREATE SCHEMA "Odd";
CREATE TABLE "Odd"."Order Lines" ("Id" int PRIMARY KEY, "Line Note" text, "Zähler" int);
CREATE TABLE public."Kunden VIP" (id int PRIMARY KEY, name text);

-- changes

INSERT INTO all_types VALUES (
    1,
    -32768, 2147483647, 9223372036854775807, 4294967295,
    3.14, 2.718281828459045,
    1234.50, 0.000123400, '$1,234.56',
    true,
    'ab', 'héllo', E'line\nbreak "quoted" \\ tab\t', 'MiXeD', 'a_name',
    '\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, null]}', '{"b": {"c": true}}', '<r a="1">x</r>',
    '2024-02-29', '13:51:30.123456', '13:51:30.123', '13:51:30.5+05:30',
    '2024-02-29 13:45:01.123456', '2024-02-29 13:45:01.123', '2024-02-29 13:45:01.123456+01', '2024-02-29 13:45:01+00',
    '1 year 2 mons 3 days 04:05:06.78',
    B'1', B'101100111000', B'10110',
    '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
    '[1,10)', '["2024-01-01 00:00:00+00","2024-12-31 00:00:00+00")',
    '{1,NULL,3}', '{"a,b","c\"d",NULL,"NULL"}', '{{1,2},{3,4}}', '{1.50,NULL,-2.25}',
    'happy', '{sad,ok}', 19.99,
    '"b"=>"2", "a"=>"1", "n"=>NULL', 'top.science.astronomy'
);
INSERT INTO all_types (id) VALUES (2);
INSERT INTO all_types (id, c_int2, c_int8, c_float4, c_float8, c_numeric, c_numeric_var, c_money, c_text, c_bytea,
                       c_date, c_time, c_timestamp, c_timestamptz, c_interval, c_varbit, c_int_array, c_hstore, c_jsonb)
VALUES (3, 0, -9223372036854775808, 'NaN', '-Infinity', -0.01, -12345678901234567890.123456789, '-$0.05', '', '\x',
        '0044-03-15 BC', '24:00:00', '-infinity', 'infinity', '-1 days -02:03:04.5', B'', '{}', '', 'null');
UPDATE all_types SET c_text = 'changed', c_int4 = c_int4 - 1 WHERE id = 1;
-- Characters outside the Basic Multilingual Plane (Jackson escapes them as surrogate pairs).
UPDATE all_types SET c_text = 'emoji 😀 é 𝄞', c_text_array = '{"😀",x}', c_hstore = '"k😀"=>"v😀"', c_jsonb = '{"e": "😀"}'
WHERE id = 3;
DELETE FROM all_types WHERE id = 2;

INSERT INTO docs VALUES (1, repeat('x', 5000), array_fill('label'::text, ARRAY[1000]), array_fill(7, ARRAY[2000]), 1);
UPDATE docs SET n = 2 WHERE id = 1;

INSERT INTO ident_full VALUES (1, 'a');
UPDATE ident_full SET v = 'b' WHERE id = 1;
UPDATE ident_full SET id = 10 WHERE id = 1;
DELETE FROM ident_full WHERE id = 10;

INSERT INTO ident_full_unique VALUES ('A-1', 'a');
UPDATE ident_full_unique SET v = 'b' WHERE code = 'A-1';
DELETE FROM ident_full_unique WHERE code = 'A-1';

INSERT INTO ident_index VALUES ('K', 'a');
UPDATE ident_index SET v = 'b' WHERE code = 'K';
UPDATE ident_index SET code = 'L' WHERE code = 'K';
DELETE FROM ident_index WHERE code = 'L';

INSERT INTO ident_nothing VALUES (1, 'a');

INSERT INTO pk_order VALUES (1, 'x', 'first');
UPDATE pk_order SET v = 'second' WHERE a = 1;

INSERT INTO nokey VALUES ('no key');
TRUNCATE nokey;

INSERT INTO nokey_full VALUES ('a');
UPDATE nokey_full SET v = 'b';
DELETE FROM nokey_full;

INSERT INTO strict_row VALUES (1, 5, 6, 'x', true, 1.25, 2.5, 0.5, '2024-01-02', '2024-01-02 03:04:05+00',
    '2024-01-02 03:04:05', '\x01', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"k": 1}', '{1,2}', '1 day', 'ok', 3, 1.5,
    '$2.00', B'1', B'101', '01:02:03', '01:02:03+02', '2024-01-02 03:04:05.123+00', '"a"=>"b"', '10.0.0.1', '[1,3)',
    'Ci', 'abc', 'a.b', '{x,y}');
DELETE FROM strict_row WHERE id = 1;

-- The origin is named after the database: origins are cluster-wide, and each run has a database of its own.
SELECT pg_replication_origin_create(current_database());
SELECT pg_replication_origin_session_setup(current_database());
BEGIN;
SELECT pg_replication_origin_xact_setup('0/1234ABCD', '2024-02-29 12:00:00+00');
INSERT INTO replicated VALUES (1, 'from elsewhere');
SELECT pg_logical_emit_message(true, 'replicated', 'via an origin');
COMMIT;
SELECT pg_replication_origin_session_reset();
SELECT pg_replication_origin_drop(current_database());
INSERT INTO replicated VALUES (2, 'local');

BEGIN;
SELECT pg_logical_emit_message(true, 'audit', 'in a transaction');
INSERT INTO nokey VALUES ('with a message');
COMMIT;
SELECT pg_logical_emit_message(false, 'ops', 'on its own');

INSERT INTO evolve VALUES (1, 'one');
ALTER TABLE evolve ADD COLUMN b int;
INSERT INTO evolve VALUES (2, 'two', 2);
ALTER TABLE evolve DROP COLUMN a;
INSERT INTO evolve VALUES (3, 3);
ALTER TABLE evolve ALTER COLUMN b TYPE numeric(6,1);
INSERT INTO evolve VALUES (4, 4.5);
ALTER TABLE evolve RENAME TO evolved;
INSERT INTO evolved VALUES (5, 5.5);

INSERT INTO "Odd"."Order Lines" VALUES (1, 'first line', 1);
UPDATE "Odd"."Order Lines" SET "Zähler" = 2 WHERE "Id" = 1;
DELETE FROM "Odd"."Order Lines" WHERE "Id" = 1;
INSERT INTO public."Kunden VIP" VALUES (7, 'Grüezi');

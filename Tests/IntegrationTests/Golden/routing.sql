-- Golden workload for topic routing (Debezium's ByLogicalTableRouter, Swallow's `topic_routing`): two
-- shards of one logical table, with keys that collide between them, routed into one topic; a table the
-- regex does not match keeps its own topic.

CREATE TABLE shard_1 (id int PRIMARY KEY, region text, amount numeric(10,2));
CREATE TABLE shard_2 (id int PRIMARY KEY, region text, amount numeric(10,2));
CREATE TABLE shard_nokey (note text);
CREATE TABLE unrouted (id int PRIMARY KEY, note text);

-- changes
INSERT INTO shard_1 VALUES (1, 'north', 10.50);
INSERT INTO shard_2 VALUES (1, 'south', 20.00);
INSERT INTO shard_2 VALUES (2, 'south', NULL);
UPDATE shard_1 SET amount = 11.00 WHERE id = 1;
BEGIN;
INSERT INTO shard_1 VALUES (3, 'north', 1.00);
UPDATE shard_2 SET region = 'east' WHERE id = 2;
COMMIT;
-- A key change: delete (with tombstone) under the old key, create under the new.
UPDATE shard_2 SET id = 5 WHERE id = 1;
DELETE FROM shard_1 WHERE id = 3;
INSERT INTO shard_nokey VALUES ('no key, so no key field');
INSERT INTO unrouted VALUES (1, 'stays on its own topic');

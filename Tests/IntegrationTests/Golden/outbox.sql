-- The outbox workload: an order service that writes its orders and, in the same transaction, the domain
-- events other services consume, into an outbox table shaped as Debezium's outbox documentation describes
-- it (id, aggregatetype, aggregateid, type, payload), plus columns for additional fields: a tenant, a shard
-- (a partition) and when the event was made. Only the outbox table is captured (table.include.list); its
-- rows go through Debezium's EventRouter (Swallow's `outbox` section). Rows are deleted right after they
-- are inserted, as outbox writers usually do: the insert is in the WAL and is routed, the delete dropped.
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    customer_id bigint NOT NULL,
    total numeric(10,2) NOT NULL,
    status text NOT NULL
);
CREATE TABLE outboxevent (
    id uuid PRIMARY KEY,
    aggregatetype varchar(255) NOT NULL,
    aggregateid varchar(255) NOT NULL,
    type varchar(255) NOT NULL,
    payload jsonb,
    tenant text,
    shard integer NOT NULL DEFAULT 0,
    created_at timestamp(6) NOT NULL DEFAULT '2026-11-21 05:50:18.013806'
);
-- changes
BEGIN;
INSERT INTO orders VALUES (1001, 7, 59.90, 'new');
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ('8f0c1d2e-0000-4000-8000-000000000001', 'order', '1001', 'OrderCreated', '{"id": 1001, "customerId": 7, "total": 59.90, "lines": [{"item": "Swift book", "quantity": 2, "price": 29.95}], "gift": false, "note": null}', 'acme');
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ('8f0c1d2e-0000-4000-8000-000000000002', 'customer', '7', 'LoyaltyPointsEarned', '{"customerId": 7, "points": 60, "reason": "order 1001", "tags": ["spring", "promo"]}', 'acme');
DELETE FROM outboxevent WHERE aggregateid IN ('1001', '7');
COMMIT;
BEGIN;
UPDATE orders SET status = 'shipped' WHERE id = 1001;
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant, created_at) VALUES ('8f0c1d2e-0000-4000-8000-000000000003', 'order', '1001', 'OrderShipped', '{"id": 1001, "carrier": "DHL \"express\"", "weightKg": 1.25, "big": 12345678901}', NULL, '2026-11-22 08:00:00.5');
DELETE FROM outboxevent WHERE id = '8f0c1d2e-0000-4000-8000-000000000003';
COMMIT;
-- An event that stays in the table and is then updated (table.op.invalid.behavior) and deleted (dropped).
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ('8f0c1d2e-0000-4000-8000-000000000004', 'order', '1002', 'OrderCreated', '{"id": 1002, "customerId": 8, "total": 5}', 'globex');
UPDATE outboxevent SET type = 'OrderCreatedV2' WHERE id = '8f0c1d2e-0000-4000-8000-000000000004';
DELETE FROM outboxevent WHERE id = '8f0c1d2e-0000-4000-8000-000000000004';
-- An event without payload (route.tombstone.on.empty.payload: a tombstone for the aggregate's key).
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ('8f0c1d2e-0000-4000-8000-000000000005', 'order', '1001', 'OrderErased', NULL, 'acme');
DELETE FROM outboxevent WHERE id = '8f0c1d2e-0000-4000-8000-000000000005';
-- Payloads with arrays of objects, an empty array, unicode and escapes, nested and empty objects. (A payload
-- that is a JSON array at the top makes Debezium 3.6.3's expand.json.payload fail the connector, so the
-- workload has none; docs/outbox.md.)
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ('8f0c1d2e-0000-4000-8000-000000000006', 'customer', '8', 'CustomerMerged', '{"merged": [{"from": 9}, {"from": 10}], "aliases": [], "scores": [1.5, 2, null]}', 'globex');
INSERT INTO outboxevent (id, aggregatetype, aggregateid, type, payload, tenant) VALUES ('8f0c1d2e-0000-4000-8000-000000000007', 'customer', '9', 'CustomerRenamed', '{"name": "Zoë \u00e9\t/", "nested": {"level": {"deep": true}}, "empty": {}}', NULL);
DELETE FROM outboxevent;

-- The table-less outbox: a service writes its events with pg_logical_emit_message (prefix `outbox`), in the
-- transaction of its business change or on their own, never into a table. Debezium turns each message into
-- a record with DecodeLogicalDecodingMessageContent and routes it with EventRouter (Swallow's
-- outbox.message_prefixes). The event's fields are the members of the message's JSON content.
CREATE TABLE orders (id bigint PRIMARY KEY, total numeric(10,2) NOT NULL);
-- changes
BEGIN;
INSERT INTO orders VALUES (1001, 59.90);
SELECT pg_logical_emit_message(true, 'outbox', '{"id": "8f0c1d2e-0000-4000-8000-000000000001", "aggregatetype": "order", "aggregateid": "1001", "type": "OrderCreated", "payload": {"id": 1001, "total": 59.90, "lines": [{"item": "Swift book", "quantity": 2}], "note": null}, "tenant": "acme"}');
SELECT pg_logical_emit_message(true, 'outbox', '{"id": "8f0c1d2e-0000-4000-8000-000000000002", "aggregatetype": "customer", "aggregateid": "7", "type": "PointsEarned", "payload": {"points": 60}, "tenant": "acme"}');
COMMIT;
SELECT pg_logical_emit_message(false, 'outbox', '{"id": "8f0c1d2e-0000-4000-8000-000000000003", "aggregatetype": "order", "aggregateid": "1001", "type": "OrderShipped", "payload": "shipped \"fast\"", "tenant": "globex"}');
SELECT pg_logical_emit_message(false, 'outbox', '{"id": "8f0c1d2e-0000-4000-8000-000000000004", "aggregatetype": "order", "aggregateid": "1002", "type": "OrderErased", "payload": "", "tenant": "globex"}');

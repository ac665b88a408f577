-- One round of the docker-compose workload (run every 2 s by the `workload` service): a new order with
-- two items, the oldest new order shipped, and now and then an order delivered and a delivered order's
-- items removed, so the console consumer shows inserts, updates and deletes.
BEGIN;
WITH new_order AS (
  INSERT INTO orders (customer, total)
  VALUES ((ARRAY['ada', 'grace', 'edsger', 'barbara', 'donald'])[1 + floor(random() * 5)::int],
          round((random() * 200)::numeric, 2))
  RETURNING id
)
INSERT INTO order_items (order_id, line, sku, quantity)
SELECT id, line, 'sku-' || (100 + floor(random() * 900)::int), 1 + floor(random() * 3)::int
FROM new_order, generate_series(1, 2) AS line;
UPDATE orders SET status = 'shipped' WHERE id = (SELECT min(id) FROM orders WHERE status = 'new');
COMMIT;

UPDATE orders SET status = 'delivered' WHERE id = (SELECT min(id) FROM orders WHERE status = 'shipped')
  AND random() < 0.5;
DELETE FROM order_items
WHERE order_id = (SELECT min(i.order_id) FROM order_items i JOIN orders o ON o.id = i.order_id
                  WHERE o.status = 'delivered')
  AND random() < 0.3;

-- Golden workload for a publication with a column list and a row filter (PostgreSQL 15+): the schema
-- part creates the publication `swallow` itself, which Debezium (publication.autocreate.mode) and
-- Swallow (publication.create) both use as it is. pgoutput then sends only the listed columns, and
-- turns an UPDATE into or out of the filter into an INSERT or a DELETE.

CREATE TABLE customers (id int PRIMARY KEY, email text, password_hash text, note text);
CREATE TABLE orders (id int PRIMARY KEY, status text NOT NULL, total numeric(8,2));
ALTER TABLE orders REPLICA IDENTITY FULL;
CREATE PUBLICATION swallow FOR TABLE customers (id, email, note), orders WHERE (status <> 'draft');

-- changes
INSERT INTO customers VALUES (1, 'a@example.com', 'hash-1', 'first');
UPDATE customers SET password_hash = 'hash-2' WHERE id = 1;
UPDATE customers SET email = 'b@example.com' WHERE id = 1;
UPDATE customers SET id = 2 WHERE id = 1;
DELETE FROM customers WHERE id = 2;
INSERT INTO orders VALUES (1, 'draft', 1.00);
INSERT INTO orders VALUES (2, 'paid', 2.00);
UPDATE orders SET status = 'paid' WHERE id = 1;
UPDATE orders SET status = 'draft' WHERE id = 2;
UPDATE orders SET total = 5.00 WHERE id = 1;
DELETE FROM orders WHERE id = 2;
DELETE FROM orders WHERE id = 1;

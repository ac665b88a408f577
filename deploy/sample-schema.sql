-- Sample schema for docker-compose.yml: a role Swallow connects as, and two tables to capture.
CREATE ROLE swallow WITH LOGIN REPLICATION PASSWORD 'swallow';
CREATE TABLE orders (id serial PRIMARY KEY, customer text NOT NULL, total numeric(10,2) NOT NULL,
                     status text NOT NULL DEFAULT 'new', created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE order_items (order_id int REFERENCES orders, line int, sku text, quantity int,
                          PRIMARY KEY (order_id, line));
ALTER TABLE orders OWNER TO swallow;
ALTER TABLE order_items OWNER TO swallow;
-- CREATE PUBLICATION needs the CREATE privilege on the database (Swallow creates it: publication.create).
DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO swallow', current_database()); END $$;
INSERT INTO orders (customer, total) VALUES ('ada', 42.00), ('grace', 17.50);

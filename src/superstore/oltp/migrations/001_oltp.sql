-- OLTP schema of the pipeline. Location belongs to the ORDER (a customer ships
-- to many cities); products are versioned by name (32 ids carry two names);
-- the line key is (order_id, line_number), never (order_id, product_id).
-- Money is exact NUMERIC with the source's 4 decimal places.

CREATE TABLE customers (
    customer_id   text PRIMARY KEY,
    customer_name text NOT NULL,
    segment       text NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE products (
    product_id       text NOT NULL,
    product_name     text NOT NULL,
    category         text NOT NULL,
    sub_category     text NOT NULL,
    first_order_date date NOT NULL,
    PRIMARY KEY (product_id, product_name)
);

CREATE TABLE orders (
    order_id    text PRIMARY KEY,
    order_date  date NOT NULL,
    ship_date   date NOT NULL,
    ship_mode   text NOT NULL,
    customer_id text NOT NULL REFERENCES customers,
    country     text NOT NULL,
    city        text NOT NULL,
    state       text NOT NULL,
    postal_code text,
    region      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (ship_date >= order_date)
);
CREATE INDEX orders_order_date ON orders (order_date);

CREATE TABLE order_lines (
    order_id     text NOT NULL,
    line_number  integer NOT NULL CHECK (line_number >= 1),
    row_id       integer,
    product_id   text NOT NULL,
    product_name text NOT NULL,
    sales        numeric(18, 4) NOT NULL CHECK (sales >= 0),
    quantity     integer CHECK (quantity >= 1),
    discount     numeric(6, 4) CHECK (discount BETWEEN 0 AND 1),
    profit       numeric(18, 4),
    src_topic    text NOT NULL,
    src_partition integer NOT NULL,
    src_offset   bigint NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (order_id, line_number)
);
-- No FOREIGN KEYs on order_lines: the per-row FK triggers cost 60% of the
-- line upsert (measured: 0.28 s -> 0.11 s per 20k lines). Integrity holds by
-- construction: the writer upserts customers, products and orders from the
-- same staged rows, in the same transaction, before the lines; tests and
-- `superstore check` assert there are no orphan lines.
CREATE INDEX order_lines_ingested_at ON order_lines (ingested_at);

-- Exactly-once: the next offset to read per (group, topic, partition) is
-- written in the same transaction as the lines it covers.
CREATE TABLE ingest_offsets (
    group_id    text NOT NULL,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, partition)
);

-- Dead letters: raw bytes and where they came from, unique per source message.
CREATE TABLE rejected_lines (
    id          bigserial PRIMARY KEY,
    topic       text NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    msg_key     bytea,
    raw         bytea,
    reason      text NOT NULL,
    rejected_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (topic, partition, "offset")
);

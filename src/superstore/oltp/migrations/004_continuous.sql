-- Continuous operation: history is never finished.
--
-- 1. Change tracking. Every ingest transaction that changes an order date's data
--    (a new line, a changed line, an order moved, a customer renamed, a
--    cancellation, a return) sets that day's mark, in the same transaction, to a
--    new value of the change_mark sequence, fetched while it holds the day's row
--    lock (ON CONFLICT DO UPDATE evaluates SET after locking). So a day's mark
--    only grows, in commit order: a snapshot that saw mark M saw every change up
--    to M, and any later change commits a mark > M. An export records the mark
--    its snapshot saw; a day is stale where its mark is newer (superstore.oltp.changes).
-- 2. Order events: cancellations and returns, kept as a log (never deleted), and
--    the status they give orders and lines, maintained by the same transaction.
-- 3. Where each day was last exported, and with which mark: the index the
--    continuous sync reads instead of every manifest of the lake.

CREATE SEQUENCE change_mark;

CREATE TABLE day_changes (
    order_date date PRIMARY KEY,
    mark       bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
-- Days stored before change tracking: marked now, so every partition exported before
-- it (its manifest has no mark) counts as stale once and is exported again.
INSERT INTO day_changes (order_date, mark)
SELECT order_date, nextval('change_mark') FROM (SELECT DISTINCT order_date FROM orders) d
ORDER BY order_date;

CREATE TABLE order_events (
    id            bigserial PRIMARY KEY,
    order_id      text NOT NULL,
    event         text NOT NULL CHECK (event IN ('order_cancelled', 'order_returned')),
    event_time    timestamptz NOT NULL,
    line_number   integer CHECK (line_number >= 1),  -- NULL: the whole order
    quantity      integer CHECK (quantity >= 1),     -- NULL: the whole line (or order)
    reason        text,
    src_topic     text NOT NULL,
    src_partition integer NOT NULL,
    src_offset    bigint NOT NULL,
    ingested_at   timestamptz NOT NULL DEFAULT now()
);
-- A message names several lines at most once each: unique per source message and line.
CREATE UNIQUE INDEX order_events_source
    ON order_events (src_topic, src_partition, src_offset, coalesce(line_number, 0));
CREATE INDEX order_events_order ON order_events (order_id);

-- The status events give an order (whole-order cancellation, whole-order return) and a
-- line (a line-level return, with how many came back). Nullable columns without a
-- default: adding them rewrites nothing, and the hot path's COPY leaves them NULL.
ALTER TABLE orders
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN returned_at timestamptz,
    ADD COLUMN events_at timestamptz;  -- when an event first applied to the order
ALTER TABLE order_lines
    ADD COLUMN returned_at timestamptz,
    ADD COLUMN returned_quantity integer CHECK (returned_quantity >= 1);
-- The few orders any event touched, per day: what /today and the day exports look up.
CREATE INDEX orders_with_events ON orders (order_date) WHERE events_at IS NOT NULL;

-- The day totals' line trigger follows what they count (product and sales), not the
-- return columns the event settlement writes.
DROP TRIGGER day_totals_line_changed ON order_lines;
CREATE TRIGGER day_totals_line_changed AFTER UPDATE OF product_id, product_name, sales
ON order_lines FOR EACH ROW EXECUTE FUNCTION day_totals_line_changed();

CREATE TABLE lake_exports (
    lake        text NOT NULL,
    order_date  date NOT NULL,
    mark        bigint NOT NULL,
    exported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (lake, order_date)
);

-- Both days of an order moved to another date are changed: the day it left (its
-- export loses the order) and the day it went to.
-- The ingest used to find those days by joining the batch's orders to every stored
-- order before its upsert: the planner, with no statistics on the staging table,
-- hashed the whole orders table for it, a cost that grew with history (41 ms per
-- 20k-line batch at 150k orders, the largest part of the change-tracking loss on
-- the ingest hot path). This trigger fires only when an order's date really
-- changes, so new orders, nearly all of a stream, cost nothing.
--
-- In an ingest transaction the day goes to the session's stage_changed_days, which
-- the batch marks once, in day order, at its end (superstore.oltp.changes); any
-- other UPDATE (by hand, a tool) marks both days at once.
CREATE FUNCTION order_moved_mark_day() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass('pg_temp.stage_changed_days') IS NOT NULL THEN
        INSERT INTO stage_changed_days (order_date) VALUES (OLD.order_date), (NEW.order_date);
    ELSE
        INSERT INTO day_changes AS c (order_date, mark)
        SELECT d, nextval('change_mark') FROM unnest(ARRAY[OLD.order_date, NEW.order_date]) AS d
        ORDER BY d
        ON CONFLICT (order_date) DO UPDATE SET mark = nextval('change_mark'), changed_at = now();
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER order_moved_mark_day AFTER UPDATE OF order_date ON orders
FOR EACH ROW WHEN (OLD.order_date IS DISTINCT FROM NEW.order_date)
EXECUTE FUNCTION order_moved_mark_day();

-- Least privilege: each component's role gets exactly the rights it uses.
--
-- The roles exist on the embedded server (superstore.stack.postgres creates
-- them before any migration runs); on a server given by SUPERSTORE_PG_DSN
-- they usually do not, and this grants nothing. The owner (who runs the
-- migrations) keeps all rights on its tables. A later migration that adds a
-- table grants it to the roles that need it, the same way.
--
--   superstore_ingest  DML on the tables one ingest transaction writes (the
--                      day-totals triggers run with its rights too), nothing
--                      of the export bookkeeping.
--   superstore_reader  export, check, ETL: SELECT on the OLTP tables, and the
--                      lake_exports rows an export records.
--   superstore_web     SELECT on exactly what /today reads.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'superstore_ingest') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON
            customers, products, orders, order_lines, ingest_offsets, rejected_lines,
            day_product_sales, day_totals, day_changes, order_events
            TO superstore_ingest;
        GRANT USAGE ON SEQUENCE change_mark, rejected_lines_id_seq, order_events_id_seq
            TO superstore_ingest;
        GRANT SELECT ON schema_migrations TO superstore_ingest;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'superstore_reader') THEN
        GRANT SELECT ON
            customers, products, orders, order_lines, ingest_offsets, rejected_lines,
            day_product_sales, day_totals, day_changes, order_events, lake_exports,
            schema_migrations
            TO superstore_reader;
        GRANT INSERT, UPDATE, DELETE ON lake_exports TO superstore_reader;
        GRANT SELECT ON SEQUENCE change_mark TO superstore_reader;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'superstore_web') THEN
        GRANT SELECT ON
            customers, products, orders, order_lines, day_product_sales, day_totals
            TO superstore_web;
    END IF;
END
$$;

-- The notification of new outbox rows names their region, so that the relay wakes only the
-- publishing loops of the regions written to (shared/kernel/outbox.py). With an empty payload
-- every write woke every region's loop, and each of them queried the outbox: with 20 regions,
-- 19 empty queries per transaction. Notifications of one transaction with the same region are
-- delivered once (PostgreSQL folds equal payloads); the relay still polls in case one is missed.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    written text;
BEGIN
    FOR written IN SELECT DISTINCT region FROM new_rows LOOP
        PERFORM pg_notify('outbox_' || TG_TABLE_SCHEMA, written);
    END LOOP;
    RETURN NULL;
END
$$;

DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

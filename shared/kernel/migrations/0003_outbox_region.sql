-- Each outbox row carries the OC region of its event. The regional deployments of a service share
-- its schema, but each may write only its own region's topics, so each relay publishes only the
-- rows of the regions it serves (shared/outbox.py), independently of the other regions.

-- The region of a topic name: its first segment that is a region code, after any topic prefix
-- ('oc02.registration.facilitator.v1', 't1a2b3c.oc02.registration.facilitator.v1').
CREATE FUNCTION outbox_region_of(topic text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT substring(topic FROM '(?:^|\.)(oc[0-9]{2})\.')
$$;

ALTER TABLE outbox ADD COLUMN region text;
UPDATE outbox SET region = outbox_region_of(topic);
-- Fails (and the migration with it) if a row's topic names no region: nothing is guessed.
ALTER TABLE outbox ALTER COLUMN region SET NOT NULL;

-- Each relay reads its region's unsent rows in id order.
DROP INDEX outbox_unsent_idx;
CREATE INDEX outbox_unsent_region_idx ON outbox (region, id) WHERE sent_at IS NULL;

-- Writers that predate the column (processes of the previous release, still running during a
-- rolling upgrade) insert no region: derive it from the topic, as the backfill did.
CREATE FUNCTION outbox_fill_region() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.region := outbox_region_of(NEW.topic);
    RETURN NEW;
END
$$;

CREATE TRIGGER outbox_fill_region BEFORE INSERT ON outbox
    FOR EACH ROW WHEN (NEW.region IS NULL) EXECUTE FUNCTION outbox_fill_region();

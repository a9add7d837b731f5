-- processed_events is pruned by age (shared.consumer.prune_processed_events): a BRIN index on the
-- insertion time finds the old rows at almost no cost to the inserts of every consumed batch.
CREATE INDEX processed_events_processed_at ON processed_events USING brin (processed_at);

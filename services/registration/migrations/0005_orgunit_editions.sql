-- Editions of the reference data over time: a unit is in force from effective_from until the day
-- before effective_to (NULL: still in force). E.g. the kota/kabupaten that the 2022 division of
-- Papua moved to a new province end on the law's date; they continue under new codes.
ALTER TABLE org_units ADD COLUMN effective_to date;
ALTER TABLE org_units ADD CONSTRAINT org_units_effective_range
    CHECK (effective_to IS NULL OR effective_to > effective_from);

-- The bulk load (load-country) copies its rows here, merges them into org_units with two
-- statements and empties it again, in one transaction under the seed lock (the service's role may
-- not create temporary tables).
CREATE UNLOGGED TABLE org_units_staged (
    code           text PRIMARY KEY,
    level          text NOT NULL,
    name           text NOT NULL,
    parent_code    text,
    effective_from date NOT NULL,
    effective_to   date
);

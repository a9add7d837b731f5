-- Reference data: provinces, kota/kabupaten, kecamatan and kelurahan/desa with their
-- Kemendagri/BPS codes, and the OC region each province belongs to over time.
CREATE TABLE org_units (
    code           text        PRIMARY KEY CHECK (code ~ '^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$'),
    level          text        NOT NULL CHECK (level IN ('province', 'kabkota', 'kecamatan', 'kelurahan')),
    name           text        NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    parent_code    text        REFERENCES org_units (code),
    effective_from date        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((level = 'province') = (parent_code IS NULL))
);

CREATE INDEX org_units_parent_idx ON org_units (parent_code);
CREATE INDEX org_units_level_idx ON org_units (level, code);

-- From effective_from on, the province belongs to the region (until a later assignment).
CREATE TABLE region_assignments (
    province_code  text        NOT NULL REFERENCES org_units (code),
    region         text        NOT NULL CHECK (region ~ '^oc[0-9]{2}$'),
    effective_from date        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (province_code, effective_from)
);

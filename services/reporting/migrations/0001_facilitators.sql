-- One row per registered facilitator (as reported by the registration service).
CREATE TABLE facilitators (
    facilitator_id uuid        PRIMARY KEY,
    region         text        NOT NULL,
    province_code  text        NOT NULL,
    kabkota_code   text        NOT NULL,
    role           text        NOT NULL,
    full_name      text        NOT NULL,
    registered_at  timestamptz NOT NULL
);

-- Running totals per area and role, maintained incrementally so national counts stay cheap.
CREATE TABLE facilitator_totals (
    region        text   NOT NULL,
    province_code text   NOT NULL,
    role          text   NOT NULL,
    registered    bigint NOT NULL,
    PRIMARY KEY (region, province_code, role)
);

-- Freshness: the newest event applied per region and when it was applied.
CREATE TABLE region_freshness (
    region          text        PRIMARY KEY,
    last_event_at   timestamptz NOT NULL,
    last_applied_at timestamptz NOT NULL
);

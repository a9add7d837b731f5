CREATE TABLE facilitators (
    facilitator_id uuid        PRIMARY KEY,
    -- keyed hash (HMAC-SHA256) of the national ID number; the number itself is never stored
    nik_hash       bytea       NOT NULL UNIQUE,
    full_name      text        NOT NULL,
    role           text        NOT NULL,
    region         text        NOT NULL,
    province_code  text        NOT NULL,
    kabkota_code   text        NOT NULL,
    status         text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    effective_from date        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX facilitators_area_idx ON facilitators (region, province_code, kabkota_code);

CREATE TABLE enrollments (
    enrollment_id  uuid        PRIMARY KEY,
    training_id    uuid        NOT NULL,
    facilitator_id uuid        NOT NULL REFERENCES facilitators,
    region         text        NOT NULL,
    status         text        NOT NULL DEFAULT 'enrolled' CHECK (status IN ('enrolled', 'withdrawn')),
    enrolled_at    timestamptz NOT NULL DEFAULT now(),
    withdrawn_at   timestamptz,
    UNIQUE (training_id, facilitator_id)
);

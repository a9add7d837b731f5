-- Speciality, an optional hashed phone number, deactivation, a stable registration order, and
-- the history of every facilitator's role and area.
ALTER TABLE facilitators
    ADD COLUMN speciality          text,
    -- keyed hash (HMAC-SHA256) of the normalised phone number; the number itself is never stored
    ADD COLUMN phone_hash          bytea,
    ADD COLUMN deactivated_on      date,
    ADD COLUMN deactivation_reason text,
    ADD COLUMN seq                 bigint GENERATED ALWAYS AS IDENTITY;

CREATE UNIQUE INDEX facilitators_seq_idx ON facilitators (seq);

CREATE TABLE facilitator_assignments (
    assignment_id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    facilitator_id uuid        NOT NULL REFERENCES facilitators,
    role           text        NOT NULL,
    speciality     text,
    region         text        NOT NULL,
    province_code  text        NOT NULL,
    kabkota_code   text        NOT NULL,
    effective_from date        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX facilitator_assignments_of_idx ON facilitator_assignments (facilitator_id, effective_from);

INSERT INTO facilitator_assignments
    (facilitator_id, role, speciality, region, province_code, kabkota_code, effective_from, recorded_at)
SELECT facilitator_id, role, speciality, region, province_code, kabkota_code, effective_from, created_at
FROM facilitators ORDER BY created_at;

ALTER TABLE enrollments ADD COLUMN withdrawal_reason text;

CREATE INDEX enrollments_active_idx ON enrollments (training_id) WHERE status = 'enrolled';
CREATE INDEX enrollments_facilitator_idx ON enrollments (facilitator_id);

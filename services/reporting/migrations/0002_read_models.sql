-- National read models. Every table here is a pure function of the SET of events applied: each
-- part of a row is last-writer-wins by its own version (occurred_at, event_id; assignments by
-- effective_from first), so the result does not depend on arrival order. That is what lets
-- `python -m services.reporting rebuild` reproduce the incrementally built tables row for row.
-- Index names follow PostgreSQL's default naming, which `CREATE TABLE ... (LIKE ... INCLUDING ALL)`
-- (used by the rebuild's shadow tables) reproduces, so names survive a rebuild swap.

-- Facilitators: keep the rows of 0001 (registrations applied so far), widen to the full state.
ALTER TABLE facilitators
    ALTER COLUMN region DROP NOT NULL,
    ALTER COLUMN province_code DROP NOT NULL,
    ALTER COLUMN kabkota_code DROP NOT NULL,
    ALTER COLUMN role DROP NOT NULL,
    ALTER COLUMN full_name DROP NOT NULL,
    ALTER COLUMN registered_at DROP NOT NULL,
    ADD COLUMN registered boolean NOT NULL DEFAULT true,
    ADD COLUMN speciality text,
    ADD COLUMN name_at timestamptz,
    ADD COLUMN name_event uuid,
    ADD COLUMN assigned_from date,
    ADD COLUMN assigned_at timestamptz,
    ADD COLUMN assigned_event uuid,
    ADD COLUMN deactivated_from date,
    ADD COLUMN deactivation_reason text,
    ADD COLUMN deactivated_at timestamptz,
    ADD COLUMN deactivated_event uuid;
ALTER TABLE facilitators ALTER COLUMN registered SET DEFAULT false;
-- Rows from 0001 have no event ids: their versions are approximated from registered_at. A rebuild
-- gives the exact versions.
UPDATE facilitators
SET name_at = registered_at, assigned_from = registered_at::date, assigned_at = registered_at;
ALTER TABLE facilitators
    ADD COLUMN status text GENERATED ALWAYS AS (
        CASE WHEN deactivated_at IS NULL THEN 'active' ELSE 'inactive' END
    ) STORED;

-- Facilitators per area, role and status, maintained by deltas of each touched facilitator's
-- bucket (registered facilitators only). `registered` is the number of facilitators in the bucket.
DROP TABLE facilitator_totals;
CREATE TABLE facilitator_totals (
    region        text   NOT NULL,
    province_code text   NOT NULL,
    kabkota_code  text   NOT NULL,
    role          text   NOT NULL,
    status        text   NOT NULL,
    registered    bigint NOT NULL,
    PRIMARY KEY (region, province_code, kabkota_code, role, status)
);
INSERT INTO facilitator_totals (region, province_code, kabkota_code, role, status, registered)
SELECT region, province_code, kabkota_code, role, status, count(*)
FROM facilitators WHERE registered
GROUP BY region, province_code, kabkota_code, role, status;

-- Every role/area assignment (registration and reassignments), for a facilitator's history.
CREATE TABLE facilitator_assignments (
    event_id       uuid        PRIMARY KEY,
    facilitator_id uuid        NOT NULL,
    kind           text        NOT NULL,
    effective_from date        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    region         text        NOT NULL,
    role           text        NOT NULL,
    speciality     text,
    province_code  text        NOT NULL,
    kabkota_code   text        NOT NULL
);
CREATE INDEX facilitator_assignments_facilitator_id_idx ON facilitator_assignments (facilitator_id);

-- Org unit names (provinces, kota/kabupaten, kelurahan) and which region a province belongs to.
CREATE TABLE org_units (
    code           text        PRIMARY KEY,
    level          text        NOT NULL,
    name           text        NOT NULL,
    parent_code    text,
    effective_from date        NOT NULL,
    version_at     timestamptz NOT NULL,
    version_event  uuid        NOT NULL
);
CREATE TABLE province_regions (
    province_code  text        PRIMARY KEY,
    region         text        NOT NULL,
    province_name  text        NOT NULL,
    effective_from date        NOT NULL,
    version_at     timestamptz NOT NULL,
    version_event  uuid        NOT NULL
);

-- Trainings: type and organiser from TrainingScheduled; schedule details from the newest of
-- TrainingScheduled / TrainingUpdated; cancellation and closure.
CREATE TABLE trainings (
    training_id          uuid PRIMARY KEY,
    region               text,
    training_type        text,
    organiser            text,
    scheduled_at         timestamptz,
    scheduled_event      uuid,
    title                text,
    venue                text,
    start_date           date,
    end_date             date,
    capacity             integer,
    eligible_roles       jsonb,
    details_at           timestamptz,
    details_event        uuid,
    cancelled_at         timestamptz,
    cancel_reason        text,
    cancel_event         uuid,
    closed_at            timestamptz,
    closed_completed     integer,
    closed_not_completed integer,
    close_event          uuid,
    status text GENERATED ALWAYS AS (
        CASE WHEN cancelled_at IS NOT NULL THEN 'cancelled'
             WHEN closed_at IS NOT NULL THEN 'closed'
             WHEN details_at IS NULL THEN 'unknown'
             ELSE 'scheduled' END
    ) STORED
);
CREATE INDEX trainings_start_date_idx ON trainings (start_date);
CREATE INDEX trainings_region_idx ON trainings (region);

-- The sessions of the training's current schedule (replaced when the schedule details change).
CREATE TABLE training_sessions (
    training_id  uuid NOT NULL,
    session_id   text NOT NULL,
    session_date date NOT NULL,
    kind         text NOT NULL,
    module_code  text,
    PRIMARY KEY (training_id, session_id)
);
CREATE INDEX training_sessions_session_date_idx ON training_sessions (session_date);

-- One row per (training, facilitator): enrollment, withdrawal, pre/post test, OJT, completion and
-- certificate, each part with its own version. Area and role are those sent with the enrollment.
CREATE TABLE participants (
    training_id        uuid NOT NULL,
    facilitator_id     uuid NOT NULL,
    region             text,
    enrollment_id      uuid,
    role               text,
    province_code      text,
    kabkota_code       text,
    enrolled_at        timestamptz,
    enrolled_event     uuid,
    withdrawn_at       timestamptz,
    withdrawn_event    uuid,
    withdraw_reason    text,
    pre_score          numeric,
    pre_max            numeric,
    pre_pct            numeric,
    pre_at             timestamptz,
    pre_event          uuid,
    post_score         numeric,
    post_max           numeric,
    post_pct           numeric,
    post_at            timestamptz,
    post_event         uuid,
    ojt_kelurahan      text,
    ojt_mentor         text,
    ojt_assigned_at    timestamptz,
    ojt_assigned_event uuid,
    ojt_done_kelurahan text,
    ojt_rating         integer,
    ojt_done_at        timestamptz,
    ojt_done_event     uuid,
    outcome            text,
    attendance_ratio   numeric,
    unmet              jsonb,
    outcome_kelurahan  text,
    outcome_at         timestamptz,
    outcome_event      uuid,
    certificate_code   text,
    certificate_at     timestamptz,
    certificate_event  uuid,
    enrollment_status text GENERATED ALWAYS AS (
        CASE WHEN enrolled_at IS NULL THEN 'unknown'
             WHEN withdrawn_at IS NOT NULL AND withdrawn_at >= enrolled_at THEN 'withdrawn'
             ELSE 'enrolled' END
    ) STORED,
    PRIMARY KEY (training_id, facilitator_id)
) WITH (fillfactor = 70);  -- rows are updated in place several times: room for HOT updates
CREATE INDEX participants_facilitator_id_idx ON participants (facilitator_id);
CREATE INDEX participants_province_code_kabkota_code_idx ON participants (province_code, kabkota_code);

-- Attendance per session and participant; a later occurred_at wins (corrections).
CREATE TABLE attendance (
    training_id    uuid        NOT NULL,
    session_id     text        NOT NULL,
    facilitator_id uuid        NOT NULL,
    status         text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    PRIMARY KEY (training_id, session_id, facilitator_id)
);

-- Derived per session from attendance (recomputed for the sessions a batch touched).
CREATE TABLE session_stats (
    training_id uuid    NOT NULL,
    session_id  text    NOT NULL,
    recorded    integer NOT NULL,
    present     integer NOT NULL,
    late        integer NOT NULL,
    excused     integer NOT NULL,
    absent      integer NOT NULL,
    PRIMARY KEY (training_id, session_id)
);

-- Derived per training from participants and session_stats (recomputed for touched trainings).
-- Scores are percentages of max_score; means are exact (numeric), so they do not depend on order.
CREATE TABLE training_stats (
    training_id         uuid    PRIMARY KEY,
    participants        integer NOT NULL,
    enrolled            integer NOT NULL,
    withdrawn           integer NOT NULL,
    completed           integer NOT NULL,
    not_completed       integer NOT NULL,
    certified           integer NOT NULL,
    pre_n               integer NOT NULL,
    pre_mean            numeric,
    post_n              integer NOT NULL,
    post_mean           numeric,
    gain_n              integer NOT NULL,
    gain_mean           numeric,
    ojt_assigned        integer NOT NULL,
    ojt_completed       integer NOT NULL,
    attendance_recorded integer NOT NULL,
    attendance_attended integer NOT NULL
);

-- Derived per training, participant area and role ('' when the enrollment carried no area).
CREATE TABLE training_area_stats (
    training_id   uuid    NOT NULL,
    province_code text    NOT NULL,
    kabkota_code  text    NOT NULL,
    role          text    NOT NULL,
    enrolled      integer NOT NULL,
    withdrawn     integer NOT NULL,
    completed     integer NOT NULL,
    not_completed integer NOT NULL,
    certified     integer NOT NULL,
    ojt_completed integer NOT NULL,
    PRIMARY KEY (training_id, province_code, kabkota_code, role)
);
CREATE INDEX training_area_stats_province_code_kabkota_code_idx
    ON training_area_stats (province_code, kabkota_code);

-- Freshness per consumer and region: newest occurred_at applied, when, and how many events.
DROP TABLE region_freshness;
CREATE TABLE region_freshness (
    consumer        text        NOT NULL,
    region          text        NOT NULL,
    newest_event_at timestamptz NOT NULL,
    last_applied_at timestamptz NOT NULL,
    events_applied  bigint      NOT NULL,
    PRIMARY KEY (consumer, region)
);

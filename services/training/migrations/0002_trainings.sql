-- Trainings and what happens in them: class membership, participation facts (attendance,
-- assessments, OJT), completion decisions, certificates; and the kelurahan known from the
-- registration service's reference data.

-- FacilitatorEnrolled carries the participant's area (optional in the contract).
ALTER TABLE roster ADD COLUMN province_code text, ADD COLUMN kabkota_code text;

CREATE TABLE trainings (
    training_id     uuid        PRIMARY KEY,
    region          text        NOT NULL,
    training_type   text        NOT NULL,
    title           text        NOT NULL,
    organiser       text        NOT NULL,
    venue           text        NOT NULL,
    start_date      date        NOT NULL,
    end_date        date        NOT NULL,
    capacity        integer     NOT NULL,
    eligible_roles  text[]      NOT NULL,
    modules         jsonb       NOT NULL,
    classes         jsonb       NOT NULL,
    sessions        jsonb       NOT NULL,
    completion_rule jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled', 'closed')),
    status_reason   text        NOT NULL DEFAULT '',
    version         integer     NOT NULL DEFAULT 1,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz
);

CREATE INDEX trainings_region_idx ON trainings (region, start_date);

-- Which class (of the training's classes) a participant sits in.
CREATE TABLE class_members (
    training_id    uuid NOT NULL,
    facilitator_id uuid NOT NULL,
    class_id       text NOT NULL,
    PRIMARY KEY (training_id, facilitator_id)
);

-- Every fact ever recorded, corrections included (the history). The current value of a
-- (participant, kind, subject) is the fact with the latest (occurred_at, fact_id).
-- subject: the session id (attendance), 'pre' / 'post' (assessment), '' (OJT).
CREATE TABLE participation_facts (
    training_id    uuid        NOT NULL,
    fact_id        text        NOT NULL,
    kind           text        NOT NULL
        CHECK (kind IN ('attendance', 'assessment', 'ojt_assignment', 'ojt_completion')),
    facilitator_id uuid        NOT NULL,
    subject        text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    data           jsonb       NOT NULL,
    channel        text        NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (training_id, fact_id)
);

CREATE INDEX participation_facts_participant_idx ON participation_facts (training_id, facilitator_id);

-- One completion decision per participant, ever: the primary key makes it exactly once.
CREATE TABLE decisions (
    training_id      uuid        NOT NULL,
    facilitator_id   uuid        NOT NULL,
    outcome          text        NOT NULL CHECK (outcome IN ('completed', 'not_completed')),
    unmet            text[]      NOT NULL,
    attendance_ratio float8      NOT NULL,
    decided_by       text        NOT NULL CHECK (decided_by IN ('requirements_met', 'training_closed')),
    decided_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (training_id, facilitator_id)
);

CREATE TABLE certificates (
    code           text        PRIMARY KEY,
    training_id    uuid        NOT NULL,
    facilitator_id uuid        NOT NULL,
    issued_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (training_id, facilitator_id)
);

-- Kelurahan/desa defined by the registration service (OrgUnitDefined, level kelurahan).
CREATE TABLE known_kelurahan (
    code           text        PRIMARY KEY,
    name           text        NOT NULL,
    parent_code    text,
    region         text        NOT NULL,
    effective_from date        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

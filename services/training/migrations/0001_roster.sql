-- The roster of each training, kept from the registration service's enrollment events.
CREATE TABLE roster (
    training_id    uuid        NOT NULL,
    facilitator_id uuid        NOT NULL,
    enrollment_id  uuid        NOT NULL,
    region         text        NOT NULL,
    role           text        NOT NULL,
    status         text        NOT NULL CHECK (status IN ('enrolled', 'withdrawn')),
    enrolled_at    timestamptz NOT NULL,
    withdrawn_at   timestamptz,
    PRIMARY KEY (training_id, facilitator_id)
);

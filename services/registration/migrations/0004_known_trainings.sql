-- Trainings as announced by the training service's events (TrainingScheduled, TrainingUpdated,
-- TrainingCancelled, TrainingClosed); enrollments are validated against them.
CREATE TABLE known_trainings (
    training_id     uuid        PRIMARY KEY,
    region          text        NOT NULL,
    status          text        NOT NULL CHECK (status IN ('scheduled', 'cancelled', 'closed')),
    training_type   text,
    title           text,
    start_date      date,
    end_date        date,
    capacity        integer,
    eligible_roles  text[],
    -- occurred_at of the event whose schedule details are stored (a later one wins)
    details_as_of   timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

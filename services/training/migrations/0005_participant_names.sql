-- Participants' names, to print on their certificates: kept by the training.names consumer from the
-- registration service's FacilitatorRegistered and FacilitatorUpdated events. Nothing else about
-- the person is kept (those events carry no NIK and no phone number).
--
-- The name of a facilitator is the one of the newest event, by (named_at, event_id): the
-- occurred_at and the id of the event it came from. So the table ends the same whatever order the
-- events arrive in, and an event applied twice changes nothing.
CREATE TABLE participant_names (
    facilitator_id uuid        PRIMARY KEY,
    full_name      text        NOT NULL,
    named_at       timestamptz NOT NULL,
    event_id       uuid        NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

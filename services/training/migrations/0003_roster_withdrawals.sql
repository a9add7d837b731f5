-- Withdrawals are kept as tombstones of their own, so that the roster is the same whatever order
-- enrollments and withdrawals arrive in: a withdrawal that comes before its enrollment (a replay,
-- a redelivery, a dead letter replayed later) is remembered, and the enrollment then finds it.
CREATE TABLE roster_withdrawals (
    training_id    uuid        NOT NULL,
    facilitator_id uuid        NOT NULL,
    withdrawn_at   timestamptz NOT NULL,
    PRIMARY KEY (training_id, facilitator_id)
);

INSERT INTO roster_withdrawals (training_id, facilitator_id, withdrawn_at)
SELECT training_id, facilitator_id, withdrawn_at FROM roster WHERE withdrawn_at IS NOT NULL;

-- Outcomes decided at close over all facts; corrections after the decision open a review item
-- that the region's training officer re-decides with a reason; certificates can be revoked and a
-- new one issued; every decision is kept in decision_history.

ALTER TABLE decisions DROP CONSTRAINT IF EXISTS decisions_decided_by_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_decided_by_check
    CHECK (decided_by IN ('requirements_met', 'training_closed', 'officer'));
ALTER TABLE decisions ADD COLUMN reason text, ADD COLUMN decided_by_who text;

CREATE TABLE decision_history (
    training_id      uuid        NOT NULL,
    facilitator_id   uuid        NOT NULL,
    seq              bigserial   PRIMARY KEY,
    outcome          text        NOT NULL,
    unmet            text[]      NOT NULL,
    attendance_ratio float8      NOT NULL,
    decided_by       text        NOT NULL,
    decided_by_who   text,
    reason           text,
    decided_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX decision_history_participant ON decision_history (training_id, facilitator_id, seq);
INSERT INTO decision_history (training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by, decided_at)
SELECT training_id, facilitator_id, outcome, unmet, attendance_ratio, decided_by, decided_at FROM decisions;

-- One open review per participant at most; a resolved one is kept.
CREATE TABLE reviews (
    review_id        uuid        PRIMARY KEY,
    training_id      uuid        NOT NULL,
    facilitator_id   uuid        NOT NULL,
    decided_outcome  text        NOT NULL,
    outcome_now      text        NOT NULL,
    unmet_now        text[]      NOT NULL,
    opened_at        timestamptz NOT NULL DEFAULT now(),
    status           text        NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'resolved', 'moot')),
    resolved_at      timestamptz,
    resolved_by      text,
    resolution       text
);
CREATE UNIQUE INDEX reviews_open_one ON reviews (training_id, facilitator_id) WHERE status = 'open';
CREATE INDEX reviews_of_training ON reviews (training_id, status);

-- A revoked certificate stays verifiable (as revoked); a participant holds one valid certificate at most.
ALTER TABLE certificates ADD COLUMN revoked_at timestamptz, ADD COLUMN revoke_reason text;
ALTER TABLE certificates DROP CONSTRAINT IF EXISTS certificates_training_id_facilitator_id_key;
CREATE UNIQUE INDEX certificates_valid_one ON certificates (training_id, facilitator_id) WHERE revoked_at IS NULL;

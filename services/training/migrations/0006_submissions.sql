-- The verification chain: each session's attendance sheet and each training's close move
-- submitted -> verified (OC region) -> accepted (national), or returned; history keeps every step.
CREATE TABLE submissions (
    training_id    uuid        NOT NULL,
    submission_id  text        NOT NULL,
    kind           text        NOT NULL CHECK (kind IN ('attendance', 'close')),
    session_id     text,
    status         text        NOT NULL CHECK (status IN ('submitted', 'verified', 'accepted', 'returned')),
    since          timestamptz NOT NULL DEFAULT now(),
    by_who         text        NOT NULL DEFAULT '',
    reason         text        NOT NULL DEFAULT '',
    reopened       integer     NOT NULL DEFAULT 0,
    PRIMARY KEY (training_id, submission_id)
);
CREATE TABLE submission_history (
    seq            bigserial   PRIMARY KEY,
    training_id    uuid        NOT NULL,
    submission_id  text        NOT NULL,
    status         text        NOT NULL,
    action         text        NOT NULL,
    by_who         text        NOT NULL DEFAULT '',
    reason         text        NOT NULL DEFAULT '',
    at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX submission_history_of ON submission_history (training_id, submission_id, seq);

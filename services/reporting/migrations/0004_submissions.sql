-- The verification chain of each training (SubmissionSubmitted/Verified/Returned/Accepted): where
-- each session's attendance sheet and the close stand, since when, last writer by event version.
CREATE TABLE submissions (
    training_id    uuid        NOT NULL,
    submission_id  text        NOT NULL,
    kind           text,
    session_id     text,
    status         text,
    by_who         text,
    since          timestamptz,
    event_id       uuid,
    PRIMARY KEY (training_id, submission_id)
);
CREATE INDEX submissions_waiting ON submissions (status, since);

-- What the xAPI statements of consumer reporting.xapi say about a training and a participant,
-- learned from the canonical events (last writer by (occurred_at, event_id), so arrival order
-- does not matter), and which statement recorded each certificate (a revocation voids it).
CREATE TABLE xapi_trainings (
    training_id   uuid        PRIMARY KEY,
    title         text        NOT NULL,
    sessions      jsonb       NOT NULL,  -- {session_id: {"date": ..., "kind": ..., "module_code": ...}}
    modules       jsonb       NOT NULL,  -- {code: title}
    version_at    timestamptz NOT NULL,
    version_event uuid        NOT NULL
);

CREATE TABLE xapi_placements (
    training_id    uuid        NOT NULL,
    facilitator_id uuid        NOT NULL,
    province_code  text,
    kabkota_code   text,
    version_at     timestamptz NOT NULL,
    version_event  uuid        NOT NULL,
    PRIMARY KEY (training_id, facilitator_id)
);

CREATE TABLE xapi_certificates (
    certificate_code text PRIMARY KEY,
    statement_id     uuid NOT NULL
);

-- Areas, their dedupe ledger, and the run outbox/history (DESIGN.md "Engine contract").

CREATE TABLE areas (
    id                    INTEGER PRIMARY KEY,
    user_id               INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name                  TEXT NOT NULL,
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    -- The area as its owner wrote it (the JSON area-file shape), re-exported unchanged.
    definition            TEXT NOT NULL,
    action_service        TEXT NOT NULL,
    action_id             TEXT NOT NULL,
    -- Hash of the action's service, id and parameters: a change re-baselines the area.
    action_fingerprint    TEXT NOT NULL,
    interval_secs         INTEGER NOT NULL,
    -- Secret path segment of a webhook area's URL; NULL for other actions.
    webhook_token         TEXT UNIQUE,
    -- Engine state: cursor from the last read, and whether the first poll recorded what exists.
    cursor                TEXT,
    baselined             BOOLEAN NOT NULL DEFAULT FALSE,
    -- Set when the engine pauses the area (repeated failures, credentials gone); cleared on enable.
    paused_reason         TEXT,
    consecutive_failures  INTEGER NOT NULL DEFAULT 0,
    last_error            TEXT,
    last_polled_at        BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX areas_user ON areas(user_id);

-- Every event key an area has seen; inserted in the same transaction that queues the run.
CREATE TABLE seen_events (
    area_id     INTEGER NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
    event_key   TEXT NOT NULL,
    seen_at     BIGINT NOT NULL,
    PRIMARY KEY (area_id, event_key)
);
CREATE INDEX seen_events_age ON seen_events(seen_at);

-- One run per (area, event): the outbox while queued, the history afterwards. Times in Unix ms.
-- status: queued | running | succeeded | failed | skipped | unknown_outcome
CREATE TABLE runs (
    id               INTEGER PRIMARY KEY,
    area_id          INTEGER NOT NULL REFERENCES areas(id) ON DELETE CASCADE,
    event_key        TEXT NOT NULL,
    ingredients      TEXT NOT NULL,
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Reactions already delivered (a run resumes after them), and the one possibly in flight.
    reactions_done   INTEGER NOT NULL DEFAULT 0,
    in_flight        INTEGER,
    next_attempt_at  BIGINT NOT NULL,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    finished_at      BIGINT,
    duration_ms      BIGINT,
    error            TEXT,
    summary          TEXT,
    UNIQUE (area_id, event_key)
);
CREATE INDEX runs_pending ON runs(status, next_attempt_at);
CREATE INDEX runs_area ON runs(area_id, id);

-- Local accounts, their sessions, and OAuth2 identities linked to them.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT,
    created_at      BIGINT NOT NULL,
    failed_logins   INTEGER NOT NULL DEFAULT 0,
    locked_until    BIGINT
);

CREATE TABLE sessions (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash      BLOB NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE identities (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provider        TEXT NOT NULL,
    subject         TEXT NOT NULL,
    email           TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (provider, subject)
);
CREATE INDEX identities_user ON identities(user_id);

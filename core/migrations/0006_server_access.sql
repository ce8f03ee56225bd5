-- What an Area server needs beyond one person's device.
--
-- Personal access tokens: scripts call the server's API with them instead of a browser session.
-- Like sessions, only their SHA-256 is kept, so a copy of the database lets nobody in.
CREATE TABLE access_tokens (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name            TEXT NOT NULL,
    token_hash      BLOB NOT NULL UNIQUE,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX access_tokens_user ON access_tokens(user_id);

-- Invitations for a server whose sign-up is invite-only: a single-use code an administrator
-- hands out, kept as its SHA-256 like every other secret.
CREATE TABLE invites (
    id              INTEGER PRIMARY KEY,
    code_hash       BLOB NOT NULL UNIQUE,
    created_by      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at      BIGINT NOT NULL,
    used_by         INTEGER REFERENCES users(id) ON DELETE SET NULL,
    used_at         BIGINT
);

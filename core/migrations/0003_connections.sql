-- A user's credentials for one service account (or one OAuth2 provider shared by several
-- services). The secret is sealed with XChaCha20-Poly1305; the associated data binds it to
-- (user_id, connection_id), so a ciphertext copied to another row does not open.
CREATE TABLE connections (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    connection_id   TEXT NOT NULL,
    kind            TEXT NOT NULL,
    account_label   TEXT,
    secret          BLOB NOT NULL,
    expires_at      BIGINT,
    status          TEXT NOT NULL DEFAULT 'ok',
    status_reason   TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    UNIQUE (user_id, connection_id)
);

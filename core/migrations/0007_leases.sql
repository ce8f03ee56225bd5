-- Work shared by several Area processes on one database (PostgreSQL; on SQLite there is one).
-- runs.lease_owner: the process that holds the run (it queued or claimed it); its writes to the
-- run are refused once another process has claimed it (fencing).
ALTER TABLE runs ADD COLUMN lease_owner TEXT;

-- A known text sealed with the master key of the first process on the database: a process
-- whose key cannot open it would seal credentials the others cannot open, and is refused.
CREATE TABLE master_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    sealed      BLOB NOT NULL
);

-- One row per distinct upstream resource a poll reads (a hash of the request): the process
-- whose claim set due_at reads it, and nobody else until due_at. The validators of its last
-- answer go with it, so whichever process reads next asks "changed since?" too; prev_owner
-- tells the new owner whether another process read it last (then it re-reads the areas' state).
CREATE TABLE poll_claims (
    resource       TEXT PRIMARY KEY,
    due_at         BIGINT NOT NULL,
    owner          TEXT NOT NULL,
    prev_owner     TEXT,
    etag           TEXT,
    last_modified  TEXT
);

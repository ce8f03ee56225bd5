-- Work shared by several Area processes on one database (SQLite: migration 0007).
-- runs.lease_owner: the process that holds the run (it queued or claimed it); its writes to the
-- run are refused once another process has claimed it (fencing).
ALTER TABLE runs ADD COLUMN lease_owner TEXT;

-- A known text sealed with the master key of the first process on the database: a process
-- whose key cannot open it would seal credentials the others cannot open, and is refused.
CREATE TABLE master_key_check (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    sealed      BYTEA NOT NULL
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

-- Every Area process sharing the database hears of an edit to the areas or connections at
-- once (LISTEN area_changes), instead of at its next look at them. Only edits count: the
-- engine's own writes (cursors, failure counts) leave updated_at alone.
CREATE FUNCTION area_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('area_changes', '');
    RETURN NULL;
END
$$;
CREATE TRIGGER areas_added_or_removed AFTER INSERT OR DELETE ON areas
    FOR EACH STATEMENT EXECUTE FUNCTION area_notify_change();
CREATE TRIGGER areas_edited AFTER UPDATE ON areas
    FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at) EXECUTE FUNCTION area_notify_change();
CREATE TRIGGER connections_changed AFTER INSERT OR UPDATE OR DELETE ON connections
    FOR EACH STATEMENT EXECUTE FUNCTION area_notify_change();

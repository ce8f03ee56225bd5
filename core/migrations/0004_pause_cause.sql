-- Why the engine paused an area, as a value beside the reason shown to the user, so what
-- resumes an area never depends on the reason's wording: 'credentials' (a connection it uses is
-- missing, was removed or was refused: connecting again resumes it) or 'failures' (it kept
-- failing, or cannot run as written: switching it on again resumes it). NULL when not paused.
ALTER TABLE areas ADD COLUMN paused_cause TEXT CHECK (paused_cause IN ('credentials', 'failures'));

-- Areas paused by an older Area kept the cause only in the reason's text: every credential
-- pause ended with the command that fixes it (`area connect …`). Read it once, here.
UPDATE areas
SET paused_cause = CASE WHEN instr(paused_reason, '`area connect ') > 0 THEN 'credentials' ELSE 'failures' END
WHERE paused_reason IS NOT NULL;

-- Conversations on PostgreSQL: the same tables as bot/memory.py's SQLite file, shared by every worker.
-- JSON fields (session state, a reply's record) are text in the shape bot/memory.py stores.
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, user_id TEXT, state TEXT NOT NULL DEFAULT '{}',
    personalise INTEGER NOT NULL DEFAULT 1, status TEXT NOT NULL DEFAULT 'open',
    handled_by TEXT,  -- the staff member who last answered, once a person has taken the conversation
    created DOUBLE PRECISION NOT NULL, updated DOUBLE PRECISION NOT NULL,
    seq BIGINT GENERATED ALWAYS AS IDENTITY);  -- creation order, for ties in `updated` (SQLite's rowid)
CREATE INDEX IF NOT EXISTS sessions_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS turns (
    turn_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- never reused: feedback cannot land on a later turn
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    role TEXT NOT NULL, text TEXT NOT NULL, reply TEXT, created DOUBLE PRECISION NOT NULL,
    helpful INTEGER);  -- NULL: no feedback; 0: thumbs down; 1: thumbs up
CREATE INDEX IF NOT EXISTS turns_session ON turns(session_id, turn_id);
CREATE TABLE IF NOT EXISTS tickets (
    ticket_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions(session_id) ON DELETE CASCADE,
    user_id TEXT, reason TEXT NOT NULL, summary TEXT NOT NULL, status TEXT NOT NULL DEFAULT 'open',
    created DOUBLE PRECISION NOT NULL);
CREATE INDEX IF NOT EXISTS tickets_session ON tickets(session_id);

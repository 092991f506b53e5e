-- Disabling or deleting a client ends its live sessions (revokeClientSessions), found by client:
-- without this index that read the whole sessions table while holding the client's row lock.
-- Partial: only live sessions are looked up this way. A refresh changes neither client_id nor
-- revoked_at, so refreshes stay heap-only updates (no index entries, see 0009).
create index sessions_live_client_id_idx on sessions (client_id) where revoked_at is null;

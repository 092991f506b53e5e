-- Ops console sign-ins. Separate from `sessions` (refresh-token chains) on purpose: a console
-- session is a browser cookie for central itself, never a token the edge accepts.
-- The cookie value is stored only as its SHA-256 hash, like refresh tokens.
create table console_sessions (
  token_hash   bytea primary key,
  user_id      uuid not null references users(id) on delete cascade,
  created_at   timestamptz not null,
  expires_at   timestamptz not null,
  ip           inet,
  user_agent   text
);
create index console_sessions_user_id_idx on console_sessions (user_id);
create index console_sessions_expires_at_idx on console_sessions (expires_at);

-- portcullis initial schema. Forward-only: changes go in the next numbered file.

create table users (
  id             uuid primary key default gen_random_uuid(),
  username       text not null unique check (length(username) between 1 and 200),
  password_hash  text,                          -- argon2id PHC string; null for externally authenticated subjects
  enabled        boolean not null default true,
  audiences      text[] not null default '{}',  -- granted audiences (RFC 8707 resources)
  scopes         text[] not null default '{}',
  roles          text[] not null default '{}',
  -- "log out everywhere": access tokens issued before this instant are dead at the edge.
  not_before     timestamptz,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);

-- One row per refresh-token chain: the chain *is* the session (sid = id).
create table sessions (
  id                   uuid primary key default gen_random_uuid(),
  user_id              uuid not null references users(id) on delete cascade,
  client_id            text not null,
  audiences            text[] not null,
  scopes               text[] not null,
  roles                text[] not null default '{}',
  user_agent           text,
  ip                   inet,
  created_at           timestamptz not null,
  last_used_at         timestamptz not null,
  idle_expires_at      timestamptz not null,   -- slides on every refresh
  absolute_expires_at  timestamptz not null,   -- fixed at login
  revoked_at           timestamptz,
  revoked_reason       text,
  revoked_by           text
);
create index sessions_user_id_idx on sessions (user_id);
create index sessions_revoked_at_idx on sessions (revoked_at) where revoked_at is not null;

-- Every refresh token ever issued in a chain, stored only as SHA-256 hash.
-- When rotated, `successor_sealed` holds the successor token encrypted under a key derived
-- from the presented (plaintext) token, so a retry within the grace window can get the
-- identical successor back without the successor ever being stored readable.
create table refresh_tokens (
  id                bigint generated always as identity primary key,
  session_id        uuid not null references sessions(id) on delete cascade,
  token_hash        bytea not null unique,
  created_at        timestamptz not null,
  rotated_at        timestamptz,
  successor_id      bigint references refresh_tokens(id) on delete set null,
  successor_sealed  bytea,
  rotated_ip        inet,
  rotated_user_agent text
);
create index refresh_tokens_session_id_idx on refresh_tokens (session_id);

create table audit_events (
  id          bigint generated always as identity primary key,
  at          timestamptz not null default now(),
  event_type  text not null,          -- session.created, session.refreshed, session.reuse_detected, session.revoked, user.*, key.*
  user_id     uuid,
  session_id  uuid,
  actor       text not null,          -- 'user', 'admin:<name>', 'system'
  reason      text,
  details     jsonb not null default '{}'
);
create index audit_events_user_idx on audit_events (user_id, id desc);
create index audit_events_session_idx on audit_events (session_id, id desc);
create index audit_events_type_idx on audit_events (event_type, id desc);

-- ES256 signing keys. Lifecycle: created (published, not yet signing) → active (signing)
-- → retired (published until every token it signed has expired) → unpublished.
create table signing_keys (
  kid                    text primary key,
  alg                    text not null,
  public_jwk             jsonb not null,
  private_jwk_sealed     bytea not null,    -- AES-GCM under KEY_ENCRYPTION_SECRET
  created_at             timestamptz not null,
  activates_at           timestamptz not null,
  retired_at             timestamptz,
  unpublish_at           timestamptz
);

-- Login throttling lives in the database so every central instance sees the same counts.
create table login_attempts (
  key            text primary key,      -- 'user:<username>' or 'ip:<address>'
  failures       integer not null,
  window_start   timestamptz not null,
  locked_until   timestamptz
);

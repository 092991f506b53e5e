-- Sign-in through upstream OpenID Connect providers.

-- A sign-in in progress, between the redirect to the provider and its callback. Keyed by a
-- SHA-256 of `state`, so a database reader cannot complete someone's flow; the PKCE verifier
-- and nonce are sealed under a key derived from `state` for the same reason. The browser holds
-- only a binding secret (HttpOnly cookie) whose hash must match: a callback URL replayed in
-- another browser fails (login CSRF). Consumed by one `delete … returning` (single use).
create table federation_flows (
  state_hash            bytea primary key,
  provider_id           text not null,
  secrets_sealed        bytea not null,   -- {codeVerifier, nonce}, AES-GCM under HKDF(state)
  return_to             text not null,
  browser_binding_hash  bytea not null,
  created_at            timestamptz not null,
  expires_at            timestamptz not null
);
create index federation_flows_expires_at_idx on federation_flows (expires_at);

-- (issuer, subject) → user: the provider's stable identifier for a person (OIDC Core §5.7:
-- only iss + sub identify an end-user; an email address may change hands).
create table identity_links (
  issuer        text not null,
  subject       text not null,
  user_id       uuid not null references users(id) on delete cascade,
  provider_id   text not null,
  email         text,
  created_at    timestamptz not null,
  last_used_at  timestamptz not null,
  primary key (issuer, subject)
);
create index identity_links_user_id_idx on identity_links (user_id);

-- Which provider a session came from, for back-channel logout (by `sid` or `sub`) and
-- RP-initiated logout (`id_token_hint`, sealed). Purged with its session.
create table federated_sessions (
  session_id       uuid primary key references sessions(id) on delete cascade,
  provider_id      text not null,
  issuer           text not null,
  subject          text not null,
  provider_sid     text,
  id_token_sealed  bytea,
  created_at       timestamptz not null
);
create index federated_sessions_sid_idx on federated_sessions (issuer, provider_sid) where provider_sid is not null;
create index federated_sessions_subject_idx on federated_sessions (issuer, subject);

-- Logout tokens already acted on (OIDC Back-Channel Logout 1.0 §2.6 step 8: jti not reused).
-- Kept until the token could no longer pass its time checks.
create table backchannel_logout_jtis (
  issuer      text not null,
  jti         text not null,
  expires_at  timestamptz not null,
  primary key (issuer, jti)
);
create index backchannel_logout_jtis_expires_at_idx on backchannel_logout_jtis (expires_at);

-- ES256 keys central authenticates with at providers configured for private_key_jwt
-- (RFC 7523 §2.2), one per provider; the public halves are served at /auth/federation-jwks.json.
create table federation_client_keys (
  provider_id         text primary key,
  kid                 text not null unique,
  public_jwk          jsonb not null,
  private_jwk_sealed  bytea not null,   -- AES-GCM under KEY_ENCRYPTION_SECRET
  created_at          timestamptz not null
);

-- Registered OAuth clients (RFC 6749 §2, RFC 7591 §2 metadata names), and the identifiers of
-- client assertions and DPoP proofs already used (replay checks).

create table oauth_clients (
  -- Not UUID-shaped: user ids are UUIDs, and a client-credentials token's `sub` is its client id,
  -- so the two can never name the same subject (nor match a user's not-before marker).
  client_id                   text primary key
                              check (client_id ~ '^[A-Za-z0-9][A-Za-z0-9._~-]{0,127}$')
                              check (client_id !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'),
  client_type                 text not null check (client_type in ('public', 'confidential')),
  token_endpoint_auth_method  text not null
                              check (token_endpoint_auth_method in ('none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt')),
  -- SHA-256 of a 256-bit random secret central generated; the secret itself is shown once.
  secret_hash                 bytea,
  secret_rotated_at           timestamptz,
  jwks                        jsonb,   -- RFC 7517 public key set, for private_key_jwt
  jwks_uri                    text,    -- or where to fetch it
  grant_types                 text[] not null default '{}',
  audiences                   text[] not null default '{}',  -- what client-credentials tokens may carry
  scopes                      text[] not null default '{}',
  roles                       text[] not null default '{}',
  access_token_ttl_seconds    integer check (access_token_ttl_seconds > 0),
  require_dpop                boolean not null default false,
  enabled                     boolean not null default true,
  -- Like users.not_before: access tokens of this client issued before it are dead at the edge.
  not_before                  timestamptz,
  created_at                  timestamptz not null,
  updated_at                  timestamptz not null,
  -- Deleted clients stay (disabled) until their last token has expired, so the revocation feed
  -- keeps listing them; the retention purge removes them after that.
  deleted_at                  timestamptz,
  check ((client_type = 'public') = (token_endpoint_auth_method = 'none')),
  check ((token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post')) = (secret_hash is not null)),
  check (case when token_endpoint_auth_method = 'private_key_jwt'
              then (jwks is null) <> (jwks_uri is null)
              else jwks is null and jwks_uri is null end),
  check (deleted_at is null or not enabled)
);
create index oauth_clients_not_before_idx on oauth_clients (not_before) where not_before is not null;

-- RFC 7523 §3 item 7: a client assertion's jti is used once. Kept until the assertion expires.
create table client_assertion_jtis (
  client_id   text not null,
  jti         text not null,
  expires_at  timestamptz not null,
  primary key (client_id, jti)
);
create index client_assertion_jtis_expires_at_idx on client_assertion_jtis (expires_at);

-- RFC 9449 §11.1: DPoP proofs seen at the token endpoint, keyed by key thumbprint and jti, kept
-- until the proof would fail its iat window anyway.
create table dpop_proof_jtis (
  proof_key   text primary key,
  expires_at  timestamptz not null
);
create index dpop_proof_jtis_expires_at_idx on dpop_proof_jtis (expires_at);

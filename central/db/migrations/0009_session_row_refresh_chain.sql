-- A refresh rotates the session's own row: the chain's state lives on `sessions`, one row per
-- session, so storage grows with sessions and not with refreshes (see central/sessions/store.ts).
--
--   token_hash           SHA-256 of the refresh token that may rotate now
--   generation           its position in the chain (embedded in the token, keyed, see refresh-token.ts)
--   previous_token_hash  SHA-256 of the token it replaced: a retry within the grace window, or reuse after it
--   successor_sealed     the current token sealed under a key derived from the previous one (AES-GCM),
--                        so only a holder of the previous token can get it back; the database alone cannot
--   rotated_ip/_agent    who presented the previous token, for the reuse audit (both presenters)
--   last_used_at         when the current token was issued (start of the grace window)
--   dpop_jkt             RFC 7638 thumbprint of the key the chain is bound to (RFC 9449 §5), or null
alter table sessions
  add column token_hash           bytea,
  add column generation           integer not null default 0,
  add column previous_token_hash  bytea,
  add column successor_sealed     bytea,
  add column rotated_ip           inet,
  add column rotated_user_agent   text,
  add column dpop_jkt             text;

-- Tokens issued before this release keep working until they rotate: the live one becomes the
-- session's current token (generation 0), the last rotated one its previous token, with the sealed
-- successor it already had, so a retry across the upgrade still gets the identical successor.
update sessions s set token_hash = t.token_hash
from refresh_tokens t
where t.session_id = s.id and t.rotated_at is null;

update sessions s set
  previous_token_hash = p.token_hash,
  successor_sealed = p.successor_sealed,
  rotated_ip = p.rotated_ip,
  rotated_user_agent = p.rotated_user_agent
from (
  select distinct on (session_id) session_id, token_hash, successor_sealed, rotated_ip, rotated_user_agent
  from refresh_tokens
  where rotated_at is not null
  order by session_id, rotated_at desc, id desc
) p
where p.session_id = s.id;

-- The old per-refresh rows stay, frozen, only to find the session of a token in the old format
-- (which does not name its session) and to recognise an older one presented again as reuse.
-- Nothing is inserted any more; the rows go with their session when the retention purge deletes it.
alter table refresh_tokens rename to legacy_refresh_tokens;
alter table legacy_refresh_tokens
  drop column successor_id,
  drop column successor_sealed,
  drop column rotated_ip,
  drop column rotated_user_agent;
alter index refresh_tokens_session_id_idx rename to legacy_refresh_tokens_session_id_idx;

-- Every refresh updates the session row in place. No column it changes is indexed, so with free
-- space in the page PostgreSQL updates it as a heap-only tuple (no index entries, no index bloat).
alter table sessions set (fillfactor = 80);

-- Audit retention: routine events and security events are purged by age, each with its own bound.
create index audit_events_at_idx on audit_events (at);

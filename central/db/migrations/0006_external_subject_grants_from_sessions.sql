-- Subjects created by POST /admin/sessions before this release keep what their sessions hold.
--
-- Those password-less users (authenticated by another system) were created with the column
-- defaults, empty grants, while each session held whatever the call asked for. A session now
-- mints only within its user's current grant (boundByUserGrant), and POST /admin/sessions
-- refuses more than the user holds, so after the upgrade every such session's next refresh
-- would be cut to the issuer audience with no scope and no role, and new sessions for those
-- subjects refused with invalid_target, until someone set each user's grant by hand.
--
-- Each password-less user gets the union of its own grant and the audiences, scopes and roles
-- of its live sessions (not revoked, within both lifetimes): exactly what those sessions could
-- already mint, nothing more. Ended sessions grant nothing. Users with a password are left as
-- they are: a login never gave a session more than its user held.
--
-- Only sessions created after the user's latest user.updated event count. Before this release a
-- change to a user did not narrow their sessions, so a session older than that change may still
-- hold a grant an admin took away on purpose; taking it from there would give it back.

with live_sessions as (
  select s.user_id, s.audiences, s.scopes, s.roles from sessions s
  where s.revoked_at is null and s.idle_expires_at > now() and s.absolute_expires_at > now()
    and s.created_at > coalesce(
      (select max(e.at) from audit_events e where e.user_id = s.user_id and e.event_type = 'user.updated'),
      '-infinity')
),
widened as (
  update users u set
    -- The user's own entries first, in their order; then what only sessions held, sorted.
    audiences = u.audiences || array(
      select distinct g from live_sessions s, unnest(s.audiences) g
      where s.user_id = u.id and g <> all(u.audiences) order by g),
    scopes = u.scopes || array(
      select distinct g from live_sessions s, unnest(s.scopes) g
      where s.user_id = u.id and g <> all(u.scopes) order by g),
    roles = u.roles || array(
      select distinct g from live_sessions s, unnest(s.roles) g
      where s.user_id = u.id and g <> all(u.roles) order by g),
    updated_at = now()
  where u.password_hash is null
    and exists (
      select 1 from live_sessions s
      where s.user_id = u.id
        and not (s.audiences <@ u.audiences and s.scopes <@ u.scopes and s.roles <@ u.roles))
  returning u.id, u.audiences, u.scopes, u.roles
)
-- The audit trail shows why these users' grants changed, like any other user.updated.
insert into audit_events (at, event_type, user_id, actor, reason, details)
select now(), 'user.updated', id, 'system', 'grant taken from live sessions on upgrade (migration 0006)',
       jsonb_build_object('changed', jsonb_build_array('audiences', 'scopes', 'roles'),
                          'audiences', to_jsonb(audiences), 'scopes', to_jsonb(scopes), 'roles', to_jsonb(roles))
from widened;

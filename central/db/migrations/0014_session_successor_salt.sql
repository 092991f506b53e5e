-- A successor token is derived from the token it replaces and a salt drawn at that rotation
-- (central/sessions/refresh-token.ts, successorRefreshToken). The row keeps only the current
-- token's salt, which a retry of the previous token within the grace window needs; each rotation
-- overwrites it, so even with the server's key an old token does not lead to the current one.
alter table sessions add column successor_salt bytea;

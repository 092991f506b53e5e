-- Roles an identity provider asserted at the sign-in that started the session (mapped through its
-- roles_map). They belong to this session only: the user row never holds them, so the next sign-in
-- (or none) decides again, and sessions the user gets any other way do not have them.
alter table sessions add column asserted_roles text[] not null default '{}';

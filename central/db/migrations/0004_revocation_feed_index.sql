-- The edge revocation feed reads users whose "log out everywhere" marker is recent.
create index users_not_before_idx on users (not_before) where not_before is not null;

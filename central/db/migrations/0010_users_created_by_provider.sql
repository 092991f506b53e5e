-- The identity provider whose sign-in created the user just in time (its IDENTITY_PROVIDERS id);
-- null for users made any other way. Linking by email refuses a user another provider created:
-- that provider vouched for the person, not this one.
alter table users add column created_by_provider text;

-- A started sign-in now travels sealed in the browser's portcullis_flow cookie: starting one
-- writes nothing. What stays is the state of each sign-in that completed, until its flow would
-- have expired, so a replayed callback is refused even at a provider that redeems a code twice.
drop table federation_flows;

create table federation_used_states (
  state_hash  bytea primary key,   -- SHA-256 of the OAuth `state`
  expires_at  timestamptz not null
);
create index federation_used_states_expires_at_idx on federation_used_states (expires_at);

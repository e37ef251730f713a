//! canter-orm's integration tests, one binary (one link) for all: a module per concern. Each
//! test makes its own databases (a fresh SQLite file; a fresh PostgreSQL schema when
//! `CANTER_TEST_POSTGRES_URL` is set) and runs in their scope, so they run at once and alone
//! alike. `common` comes first: its `on_every_backend!` is used by the modules after it.

#[macro_use]
mod common;
mod aliases;
mod constraints;
mod fields_and_aggregates;
mod filter_properties;
mod hostile;
mod hostile_filters;
mod inspectdb;
mod keys;
mod migration_failures;
mod migration_operations;
mod migrations;
mod migrations_relations;
mod paths_and_state;
mod prefetch_batches;
mod prefetch_cache;
mod querysets;
mod relations;
mod transactions;

//! handoff-bridge: work website chat handoffs from Slack and Discord.
//!
//! A widget platform hands a conversation to humans; the bridge decides who owns it,
//! mirrors it where the team works, relays replies both ways and tells the widget
//! platform what happened — through one assignment engine with one source of truth.
//!
//! # Layout
//! - [`engine`] — the domain: statuses, the state machine, routing, permissions, effects
//!   as data. Knows nothing of storage, HTTP or chat platforms.
//! - [`store`] — SQL on SQLite or PostgreSQL (sqlx `Any`), one module per table family.
//! - [`service`] — runs engine decisions inside store transactions, writes the audit trail
//!   and the outbox rows, and announces committed changes.
//! - [`outbox`] — workers that deliver outbox rows: retries, backoff, dead letters.
//! - [`http`] — the axum surface: widget events (§7.1), the HTTP API (§7.3), health,
//!   metrics, the event stream and the OpenAPI document.
//! - [`config`] — settings from a TOML file and the environment; `check-config`.
//! - [`signature`] — the widget platform's HMAC request signature.
//! - [`slack`] — the Slack adapter: signed events, buttons, modals, `/handoff`, and the
//!   outbox target that makes the Web API calls.
//! - [`startup`] — builds the application, binds the port, runs until shutdown.
//! - [`telemetry`] — logging setup.
//! - [`loadgen`] — `handoff-bridge bench`, the load generator behind `BENCHMARKS.md`.
//! - [`standins`] — local stand-ins of the platforms, for tests, benchmarks and the sandbox.

pub mod config;
pub mod engine;
pub mod http;
pub mod loadgen;
pub mod outbox;
pub mod platform;
pub mod service;
pub mod signature;
pub mod slack;
pub mod standins;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

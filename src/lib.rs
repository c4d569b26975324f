//! handoff-bridge: work website chat handoffs from Slack and Discord.
//!
//! A widget platform hands a conversation to humans; the bridge decides who owns it,
//! mirrors it where the team works, relays replies both ways and tells the widget
//! platform what happened — through one assignment engine with one source of truth.
//!
//! # Layout
//! The layers, bottom up: each uses only layers listed before it (and the leaf modules
//! `config` and `signature`), with no import cycles (see `docs/architecture.md#layers`).
//! - [`engine`] — the domain: statuses, the state machine, routing, permissions, effects
//!   as data. Knows nothing of storage, HTTP or chat platforms.
//! - [`store`] — SQL on SQLite or PostgreSQL (sqlx `Any`), one module per table family;
//!   platform references in tables keyed by platform.
//! - [`outbox`] — the worker that delivers outbox rows through the targets registered by
//!   name: timeouts, retries, backoff, hold-backs, dead letters, supervision.
//! - [`service`] — runs engine decisions inside store transactions, writes the audit trail
//!   and the outbox rows (asking each platform's mirror for its own), and announces
//!   committed changes. The only door to the store.
//! - [`web`] — HTTP pieces every front door shares: the error shape, body extractors.
//! - [`http`] — the axum surface: widget events, the HTTP API, health, metrics, the event
//!   stream and the OpenAPI document.
//! - [`platform`] — the seam a chat platform plugs into: its mirror, its outbox targets,
//!   its routes; and what the `/handoff` command means on every platform.
//! - [`slack`] — the Slack adapter: signed events, buttons, modals, `/handoff`, and the
//!   outbox targets that make the Web API calls and act on queued events.
//! - [`config`] — settings from a TOML file and the environment; `check-config`.
//! - [`signature`] — the widget platform's HMAC request signature.
//! - [`startup`] — builds the application and its adapter registry, binds the port, runs
//!   until shutdown.
//! - [`telemetry`] — logging setup.
//! - [`fuzz_targets`] — the inbound parsers by front door, for the fuzz targets in `fuzz/`.
//! - [`loadgen`] — `handoff-bridge bench`, the load generator behind `BENCHMARKS.md`.
//! - [`standins`] — local stand-ins of the platforms, for tests, benchmarks and the sandbox.
//! - [`sandbox`] — `handoff-bridge sandbox`: the service with the stand-ins in-process and
//!   a page to click through a handoff in a browser.

pub mod config;
pub mod discord;
pub mod engine;
pub mod fuzz_targets;
pub mod http;
pub mod loadgen;
pub mod outbox;
pub mod platform;
pub mod sandbox;
pub mod service;
pub mod signature;
pub mod slack;
pub mod standins;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod web;

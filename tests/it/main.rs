//! Black-box tests: the real service on port 0 with its own database, against the
//! widget platform stand-in, through its front doors (signed widget events and the HTTP
//! API). Every test runs on SQLite and, when `TEST_DATABASE_URL` is set, on PostgreSQL.

mod discord_helpers;
mod helpers;
mod slack_helpers;

mod api;
mod attachments;
mod bad_input;
mod bench;
mod both_platforms;
mod browser;
mod chaos;
mod claims;
mod cli;
mod discord;
mod edits;
mod links;
mod manifests;
mod metrics;
mod migration;
mod outbox;
mod properties;
mod reliability;
mod review;
mod routing;
mod sandbox;
mod slack;
mod slack_commands;
mod slack_socket;
mod sse;
mod storage;
mod timers;
mod transitions;
mod widget_api;

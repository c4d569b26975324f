//! Local stand-ins for the platforms the bridge talks to (SPEC §9) — used by tests, the
//! benchmark and the sandbox; never by the engine.

pub mod slack;
pub mod widget;

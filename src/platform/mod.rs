//! The platform seam and its registry. A chat platform is an adapter: it gives the
//! service a [`Mirror`] (which outbox rows a change's effects become on it), and once
//! started, the outbox [`Target`]s that deliver those rows and act on its inbound
//! events, and its own routes. The core holds a list of adapters and never names one;
//! adding a platform means a folder of its own and one line in the registry
//! (`crate::startup::adapters`, see `docs/architecture.md#adding-a-platform`).
//!
//! [`handoff`] is what the `/handoff` command means on every platform; each platform
//! only parses its own text form of it and renders the answers.

pub mod handoff;

use crate::outbox::Target;
use crate::service::{Mirror, Service};
use axum::Router;
use std::sync::Arc;

/// A chat platform behind the seam.
pub trait Adapter: Send + Sync {
    /// Its name: the key of its references and of its mirror's outbox rows.
    fn name(&self) -> &'static str;

    /// What a change's effects become on this platform. Asked for before the service
    /// exists, because the service writes those rows in its own transactions.
    fn mirror(&self) -> Arc<dyn Mirror>;

    /// Starts the adapter on the service; from here on it acts through service methods
    /// only.
    fn start(self: Box<Self>, service: &Service) -> anyhow::Result<Started>;
}

/// What a started adapter brings to the application.
pub struct Started {
    /// Its HTTP routes (with its own state), merged into the application's router.
    pub routes: Router,
    /// The outbox targets it delivers, by name.
    pub targets: Vec<(&'static str, Arc<dyn Target>)>,
}

/// Cuts `text` to at most `max` characters, marking the cut.
pub fn trim(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

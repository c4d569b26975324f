//! The application service: the one place where engine decisions meet storage. Every
//! action loads what the engine needs inside one write transaction, asks the engine,
//! writes the new state with a version check, the audit rows and the outbox rows, and
//! commits; then it wakes the outbox workers and announces the change on the event
//! stream. The HTTP API, the widget endpoint and the chat platform adapters call only
//! this; none of them reaches the store.
//!
//! Chat platforms are not named here: each is a [`Mirror`] registered at start-up,
//! which turns a change's effects into outbox rows of its own (see
//! `docs/architecture.md#the-platform-seam`).

mod conversations;
mod deliveries;
mod directory;
mod edits;
mod error;
mod feed;
mod files;
mod links;
mod mirror;
mod ownership;
mod platforms;
mod receipts;
pub(crate) mod routing;
mod seed;
mod timers;
mod views;
mod widget_events;

pub use crate::store::conversations::Filter;
pub use crate::store::refs::{MessageRef, OpenThread, ThreadRef};
pub use conversations::{Acted, Names};
pub use deliveries::TARGET_WIDGET;
pub use directory::{ByPlatform, LinkedOperator, NewOperator, OperatorPatch, WidgetPatch};
pub use edits::Edited;
pub use error::ServiceError;
pub use files::{FileRules, LinkRefused, link_key, link_signature};
pub use links::LINK_CODE_TTL_MS;
pub use mirror::{Mirror, Planned, Receipt};
pub use ownership::Ownership;
pub use platforms::{Line, ThreadState};
pub use receipts::WithReceipts;
pub use views::*;
pub use widget_events::attachment_url;
pub use widget_events::{Ingested, MAX_TEXT_CHARS, WidgetEvent, WidgetEventKind, cap_text};

use crate::engine::{Actor, OperatorId, Policy, Role, WorkspaceId};
use crate::store::{self, Store};
use secrecy::{ExposeSecret, SecretString};
use std::sync::Arc;
use tokio::sync::{Notify, broadcast};

/// The workspace that the widget API and the admin token act in.
pub const DEFAULT_WORKSPACE: WorkspaceId = WorkspaceId(1);

/// How many times a transaction is retried when another writer changed the
/// conversation first.
const MAX_ATTEMPTS: usize = 8;

/// Who is calling the HTTP API, and in which workspace.
#[derive(Debug, Clone)]
pub struct Principal {
    pub workspace: WorkspaceId,
    pub actor: Actor,
}

#[derive(Clone)]
pub struct Service {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    policy: Policy,
    admin_token_hash: Option<String>,
    /// Whether the widget platform gets outbox rows (its API URL is set).
    widget: bool,
    /// The chat platforms that are switched on, each turning effects into its rows.
    mirrors: Vec<Arc<dyn Mirror>>,
    /// What files operators may send, and how they are linked.
    files: FileRules,
    outbox_wake: Arc<Notify>,
    /// Wakes the change feed after a local commit.
    feed_wake: Notify,
    /// Wakes the timer worker after a commit that may have armed a timer.
    timers_wake: Notify,
    events: broadcast::Sender<ChangeEvent>,
}

/// The options the service needs from the configuration.
pub struct ServiceOptions {
    pub policy: Policy,
    pub admin_token: Option<SecretString>,
    /// Whether the widget platform's API URL is set.
    pub widget: bool,
    /// The chat platforms that are switched on.
    pub mirrors: Vec<Arc<dyn Mirror>>,
    /// What files operators may send, and how they are linked.
    pub files: FileRules,
}

/// Where an operator's message was written, so it is mirrored everywhere else and its
/// delivery receipt goes where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The HTTP API (a web inbox).
    Api,
    /// A message in a mirrored thread on a chat platform.
    Platform(MessageRef),
}

impl Origin {
    /// The platform it was written on, if any.
    pub fn platform(&self) -> Option<&str> {
        match self {
            Origin::Api => None,
            Origin::Platform(r) => Some(&r.platform),
        }
    }
}

impl Service {
    pub fn new(store: Store, options: ServiceOptions, outbox_wake: Arc<Notify>) -> Service {
        let (events, _) = broadcast::channel(4096);
        Service {
            inner: Arc::new(Inner {
                store,
                policy: options.policy,
                admin_token_hash: options.admin_token.map(|t| store::tokens::hash(t.expose_secret())),
                widget: options.widget,
                mirrors: options.mirrors,
                files: options.files,
                outbox_wake,
                feed_wake: Notify::new(),
                timers_wake: Notify::new(),
                events,
            }),
        }
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The send pace kept in the database, for adapters' rate limits.
    pub fn shared_pace(&self) -> crate::outbox::pace::SharedPace {
        crate::outbox::pace::SharedPace::for_store(self.store())
    }

    /// Whether the database answers (readiness).
    pub async fn ping(&self) -> bool {
        self.store().ping().await
    }

    /// What `/metrics` reads at each scrape: outbox rows not delivered yet by target and
    /// status (with their oldest row's age), and open conversations by status.
    pub async fn gauges(&self) -> Result<Gauges, ServiceError> {
        let mut conn = self.store().read().await?;
        let now = store::now_ms();
        let outbox = store::outbox::depth(&mut conn)
            .await?
            .into_iter()
            .map(|(target, status, rows, oldest)| OutboxDepth {
                target,
                status,
                rows,
                oldest_age_secs: (now - oldest).max(0) as f64 / 1000.0,
            })
            .collect();
        let conversations = store::conversations::open_by_status(&mut conn).await?;
        Ok(Gauges { outbox, conversations })
    }

    /// Closes the database pool (at shutdown).
    pub async fn close(&self) {
        self.store().close().await
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// A receiver of every committed assignment change (see [`Service::run_feed`]).
    pub fn subscribe(&self) -> broadcast::Receiver<ChangeEvent> {
        self.inner.events.subscribe()
    }

    /// After a commit: wakes the outbox workers if it wrote rows, and the change feed
    /// and the timer worker (a routing may have armed a timer) if it changed an
    /// assignment.
    fn announce(&self, changed: bool, outbox_rows: bool) {
        if outbox_rows {
            self.inner.outbox_wake.notify_one();
        }
        if changed {
            self.inner.feed_wake.notify_one();
            self.inner.timers_wake.notify_one();
        }
    }

    /// Wakes the outbox workers (after a commit that wrote rows outside [`Service::act`]).
    pub fn wake_outbox(&self) {
        self.inner.outbox_wake.notify_one();
    }

    /// Accepts an inbound platform event for processing after the HTTP answer: records its
    /// id (a repeat returns false and changes nothing) and queues it as an outbox row of
    /// `target`, processed in order per `ordering_key`, retried if processing fails.
    pub async fn accept_inbound(
        &self,
        source: &str,
        event_id: &str,
        target: &'static str,
        ordering_key: String,
        payload: serde_json::Value,
    ) -> Result<bool, ServiceError> {
        let now = store::now_ms();
        let mut tx = self.store().write().await?;
        if !store::inbound::first_time(tx.conn(), source, event_id, now).await? {
            return Ok(false);
        }
        let row = store::outbox::NewRow {
            workspace_id: DEFAULT_WORKSPACE.0,
            target,
            kind: "event",
            ordering_key,
            payload,
        };
        store::outbox::enqueue(tx.conn(), &row, now).await?;
        tx.commit().await?;
        self.wake_outbox();
        Ok(true)
    }

    /// Records `id` from `source` as seen, in a transaction of its own: `false` when it
    /// was seen before (a repeat of an inbound event, such as a redelivered envelope).
    pub async fn first_sight(&self, source: &str, id: &str) -> Result<bool, ServiceError> {
        let mut tx = self.store().write().await?;
        let fresh = store::inbound::first_time(tx.conn(), source, id, store::now_ms()).await?;
        tx.commit().await?;
        Ok(fresh)
    }

    /// Resolves a bearer token to who is calling.
    pub async fn authenticate(&self, token: &str) -> Result<Option<Principal>, ServiceError> {
        if token.is_empty() {
            return Ok(None);
        }
        let hash = store::tokens::hash(token);
        if self.inner.admin_token_hash.as_deref() == Some(hash.as_str()) {
            return Ok(Some(Principal {
                workspace: DEFAULT_WORKSPACE,
                actor: Actor::AdminToken,
            }));
        }
        let mut conn = self.store().read().await?;
        let Some(op) = store::tokens::operator_of(&mut conn, token).await? else {
            return Ok(None);
        };
        let row: Option<(i64, String)> = sqlx::query_as("select workspace_id, role from operators where id = $1")
            .bind(op)
            .fetch_optional(&mut *conn)
            .await?;
        let Some((ws, role)) = row else { return Ok(None) };
        let role: Role = role
            .parse()
            .map_err(|e| ServiceError::Internal(anyhow::anyhow!("operator {op} has a corrupt role: {e}")))?;
        Ok(Some(Principal {
            workspace: WorkspaceId(ws),
            actor: Actor::Operator {
                id: OperatorId(op),
                role,
            },
        }))
    }

    /// Applies the configuration's widgets, operators and teams.
    pub async fn apply_seed(&self, seed: &crate::config::Seed) -> Result<(), ServiceError> {
        seed::apply(self, seed).await
    }
}

/// Outbox rows of one target in one status.
#[derive(Debug, Clone)]
pub struct OutboxDepth {
    pub target: String,
    pub status: String,
    pub rows: i64,
    pub oldest_age_secs: f64,
}

/// The levels `/metrics` shows, read at each scrape.
#[derive(Debug, Clone)]
pub struct Gauges {
    pub outbox: Vec<OutboxDepth>,
    /// (status, conversations) for every status but resolved.
    pub conversations: Vec<(String, i64)>,
}

//! The service's side of the platform seam: a chat platform that mirrors conversations
//! registers a [`Mirror`], which says what outbox rows an effect becomes on it. The
//! service calls it inside the change's own transaction, so the rows commit with the
//! change or not at all. Rows carry ids, not rendered text: the adapter renders from the
//! state at delivery time, so a late delivery never shows an older state.

use super::{MessageRef, ThreadRef};
use crate::engine::effects::Effect;

/// One outbox row a platform wants written; its target is the platform's name.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub kind: &'static str,
    /// Rows with one key are delivered one at a time, in order.
    pub ordering_key: String,
    pub payload: serde_json::Value,
}

/// A chat platform, as the service sees it.
pub trait Mirror: Send + Sync + 'static {
    /// The platform's name: the outbox target of its rows, and the key of its
    /// references (threads, messages, accounts, channels).
    fn platform(&self) -> &'static str;

    /// The rows that carry out one effect of a change of `conversation` on this
    /// platform (none if the effect does not concern it).
    fn plan(&self, conversation: &str, effect: &Effect) -> Vec<Planned>;

    /// The rows that show the receipt of `what` was done to an operator reply where the
    /// reply stands on this platform: `failure` is `None` when the visitor got it, or
    /// why not.
    fn receipt(
        &self,
        conversation: &str,
        thread: Option<&ThreadRef>,
        reply: &MessageRef,
        what: Receipt,
        failure: Option<&str>,
    ) -> Vec<Planned>;
}

/// What the widget platform took (or refused) for an operator reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// The reply itself.
    Sent,
    /// An edit of it.
    Edited,
    /// Its deletion.
    Deleted,
}

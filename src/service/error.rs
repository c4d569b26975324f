//! What can go wrong in a service call, by kind, so each front door can answer well.

use crate::engine::OperatorRef;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// An id that does not exist (in this workspace).
    #[error("{0}")]
    NotFound(String),
    /// Someone else owns the conversation.
    #[error("the conversation is already assigned to {}", owner.name)]
    AlreadyAssigned { owner: OperatorRef, takeover_allowed: bool },
    /// A permission rule forbids it; the text names the rule.
    #[error("{0}")]
    Forbidden(String),
    /// Not possible in the current state (e.g. resolved).
    #[error("{0}")]
    InvalidState(String),
    /// A value that is not acceptable (unknown operator in a list, empty name…).
    #[error("{0}")]
    Invalid(String),
    /// Clashes with existing data (a Slack id already linked to someone else…).
    #[error("{0}")]
    Conflict(String),
    #[error("internal error: {0}")]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for ServiceError {
    fn from(e: sqlx::Error) -> Self {
        ServiceError::Internal(e.into())
    }
}

//! Operators' HTTP API tokens, stored as SHA-256 hashes: a leaked database does not
//! leak usable tokens.

use crate::engine::OperatorId;
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

pub async fn insert(
    conn: &mut AnyConnection,
    op: OperatorId,
    token: &str,
    label: Option<&str>,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into api_tokens (operator_id, token_hash, label, created_at) values ($1, $2, $3, $4) returning id",
    )
    .bind(op.0)
    .bind(hash(token))
    .bind(label)
    .bind(now)
    .fetch_one(conn)
    .await
}

/// The operator a token belongs to.
pub async fn operator_of(conn: &mut AnyConnection, token: &str) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("select operator_id from api_tokens where token_hash = $1")
        .bind(hash(token))
        .fetch_optional(conn)
        .await
}

/// Revokes every token of an operator.
pub async fn revoke_all(conn: &mut AnyConnection, op: OperatorId) -> Result<(), sqlx::Error> {
    sqlx::query("delete from api_tokens where operator_id = $1")
        .bind(op.0)
        .execute(conn)
        .await?;
    Ok(())
}

/// An operator's token, without its secret.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRow {
    pub id: i64,
    pub label: Option<String>,
    pub created_at: i64,
}

/// An operator's tokens, oldest first.
pub async fn list(conn: &mut AnyConnection, op: OperatorId) -> Result<Vec<TokenRow>, sqlx::Error> {
    sqlx::query_as("select id, label, created_at from api_tokens where operator_id = $1 order by id")
        .bind(op.0)
        .fetch_all(conn)
        .await
}

/// Revokes one token of an operator; false if there was no such token.
pub async fn revoke(conn: &mut AnyConnection, op: OperatorId, id: i64) -> Result<bool, sqlx::Error> {
    let res = sqlx::query("delete from api_tokens where operator_id = $1 and id = $2")
        .bind(op.0)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(res.rows_affected() == 1)
}

//! Files operators shared in a thread: what each is and where its platform keeps it,
//! so that a signed link can serve it later (`docs/widget-api.md#files`).

use sqlx::{AnyConnection, FromRow};

#[derive(Debug, Clone, FromRow)]
pub struct FileRow {
    pub id: String,
    pub conversation_id: String,
    pub message_id: Option<i64>,
    pub platform: String,
    pub source: String,
    pub name: String,
    pub mimetype: String,
    pub size: i64,
    pub created_at: i64,
}

pub struct NewFile<'a> {
    pub id: &'a str,
    pub conversation: &'a str,
    pub message: i64,
    pub platform: &'a str,
    pub source: &'a str,
    pub name: &'a str,
    pub mimetype: &'a str,
    pub size: i64,
    pub now: i64,
}

pub async fn insert(conn: &mut AnyConnection, f: &NewFile<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into files (id, conversation_id, message_id, platform, source, name, mimetype, size, created_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(f.id)
    .bind(f.conversation)
    .bind(f.message)
    .bind(f.platform)
    .bind(f.source)
    .bind(f.name)
    .bind(f.mimetype)
    .bind(f.size)
    .bind(f.now)
    .execute(conn)
    .await?;
    Ok(())
}

const FILE_COLUMNS: &str = "id, conversation_id, message_id, platform, source, name, mimetype, size, created_at";

pub async fn get(conn: &mut AnyConnection, id: &str) -> Result<Option<FileRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {FILE_COLUMNS} from files where id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// The files of a line.
pub async fn of_message(conn: &mut AnyConnection, message: i64) -> Result<Vec<FileRow>, sqlx::Error> {
    sqlx::query_as(&format!("select {FILE_COLUMNS} from files where message_id = $1"))
        .bind(message)
        .fetch_all(conn)
        .await
}

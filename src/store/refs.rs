//! Where conversations and transcript lines stand on each chat platform: the thread a
//! conversation has there, and the message a line became. Keyed by platform name, so a
//! new platform needs no new columns.

use sqlx::AnyConnection;
use sqlx::FromRow;

/// A conversation's thread on one platform.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct ThreadRef {
    pub platform: String,
    pub channel: String,
    /// The platform's thread id (a Slack root ts, a Discord thread id).
    pub thread: Option<String>,
    /// The root message the bridge keeps up to date.
    pub root_message: Option<String>,
}

/// A transcript line's message on one platform.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct MessageRef {
    pub platform: String,
    pub channel: String,
    pub message: String,
}

pub async fn thread(
    conn: &mut AnyConnection,
    conversation: &str,
    platform: &str,
) -> Result<Option<ThreadRef>, sqlx::Error> {
    sqlx::query_as(
        "select platform, channel, thread, root_message from conversation_refs \
         where conversation_id = $1 and platform = $2",
    )
    .bind(conversation)
    .bind(platform)
    .fetch_optional(conn)
    .await
}

/// Records (or replaces) a conversation's thread on a platform.
pub async fn set_thread(conn: &mut AnyConnection, conversation: &str, r: &ThreadRef) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into conversation_refs (conversation_id, platform, channel, thread, root_message) \
         values ($1, $2, $3, $4, $5) on conflict (conversation_id, platform) do update \
         set channel = excluded.channel, thread = excluded.thread, root_message = excluded.root_message",
    )
    .bind(conversation)
    .bind(&r.platform)
    .bind(&r.channel)
    .bind(&r.thread)
    .bind(&r.root_message)
    .execute(conn)
    .await?;
    Ok(())
}

/// The conversation whose thread this is.
pub async fn conversation_of_thread(
    conn: &mut AnyConnection,
    platform: &str,
    channel: &str,
    thread: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "select conversation_id from conversation_refs where platform = $1 and channel = $2 and thread = $3",
    )
    .bind(platform)
    .bind(channel)
    .bind(thread)
    .fetch_optional(conn)
    .await
}

pub async fn messages_of(conn: &mut AnyConnection, message_id: i64) -> Result<Vec<MessageRef>, sqlx::Error> {
    sqlx::query_as("select platform, channel, message from message_refs where message_id = $1 order by platform")
        .bind(message_id)
        .fetch_all(conn)
        .await
}

pub async fn message(
    conn: &mut AnyConnection,
    message_id: i64,
    platform: &str,
) -> Result<Option<MessageRef>, sqlx::Error> {
    sqlx::query_as("select platform, channel, message from message_refs where message_id = $1 and platform = $2")
        .bind(message_id)
        .bind(platform)
        .fetch_optional(conn)
        .await
}

/// Records where a line stands on a platform. Returns the line's delivery state as it
/// stands after any concurrent [`super::conversations::set_delivery`]: both lock the
/// line's row first, so of the two the later one sees the other's result.
pub async fn set_message(
    conn: &mut AnyConnection,
    message_id: i64,
    r: &MessageRef,
) -> Result<Option<String>, sqlx::Error> {
    let delivery: Option<Option<String>> =
        sqlx::query_scalar("update messages set delivery = delivery where id = $1 returning delivery")
            .bind(message_id)
            .fetch_optional(&mut *conn)
            .await?;
    sqlx::query(
        "insert into message_refs (message_id, platform, channel, message) values ($1, $2, $3, $4) \
         on conflict (message_id, platform) do update set channel = excluded.channel, message = excluded.message",
    )
    .bind(message_id)
    .bind(&r.platform)
    .bind(&r.channel)
    .bind(&r.message)
    .execute(conn)
    .await?;
    Ok(delivery.flatten())
}

/// The conversation whose thread has this id on a platform whose thread ids are unique
/// by themselves (a Discord thread).
pub async fn conversation_by_thread(
    conn: &mut AnyConnection,
    platform: &str,
    thread: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("select conversation_id from conversation_refs where platform = $1 and thread = $2")
        .bind(platform)
        .bind(thread)
        .fetch_optional(conn)
        .await
}

/// Remembers `message` as the last platform message taken in from a thread, unless a
/// later one is remembered already. Platform message ids of one platform grow with time
/// (Discord snowflakes); they are compared by length, then text, so this needs no
/// numeric column.
pub async fn note_seen(
    conn: &mut AnyConnection,
    platform: &str,
    thread: &str,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "update conversation_refs set last_seen = $3 where platform = $1 and thread = $2 \
         and (last_seen is null or length(last_seen) < length($3) \
              or (length(last_seen) = length($3) and last_seen < $3))",
    )
    .bind(platform)
    .bind(thread)
    .bind(message)
    .execute(conn)
    .await?;
    Ok(())
}

/// A thread of a conversation that is still open, with the last message taken in from it.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OpenThread {
    pub conversation_id: String,
    pub channel: String,
    pub thread: String,
    pub last_seen: Option<String>,
}

/// The threads on a platform whose conversations are not resolved.
pub async fn open_threads(conn: &mut AnyConnection, platform: &str) -> Result<Vec<OpenThread>, sqlx::Error> {
    sqlx::query_as(
        "select r.conversation_id, r.channel, r.thread, r.last_seen from conversation_refs r \
         join conversations c on c.id = r.conversation_id \
         where r.platform = $1 and r.thread is not null and c.status <> 'resolved' \
         order by r.conversation_id",
    )
    .bind(platform)
    .fetch_all(conn)
    .await
}

/// Whether a platform message already became a transcript line (a reply, a note, a held
/// reply), or was deleted before it could: acting on it would repeat it, or send what its
/// writer took back.
pub async fn taken(conn: &mut AnyConnection, at: &MessageRef) -> Result<bool, sqlx::Error> {
    let found: Option<i64> = sqlx::query_scalar(
        "select cast(1 as bigint) from message_refs where platform = $1 and channel = $2 and message = $3 \
         union all select cast(1 as bigint) from inbound_events where source = $4 and event_id = $5 limit 1",
    )
    .bind(&at.platform)
    .bind(&at.channel)
    .bind(&at.message)
    .bind(DELETED_FIRST)
    .bind(deleted_key(at))
    .fetch_optional(conn)
    .await?;
    Ok(found.is_some())
}

/// The inbound record of a platform message deleted before it was taken in.
const DELETED_FIRST: &str = "deleted_first";

fn deleted_key(at: &MessageRef) -> String {
    format!("{}:{}:{}", at.platform, at.channel, at.message)
}

/// Records that the platform message `at` was deleted before it became a line (its
/// deletion overtook it), so that it never does.
pub async fn deleted_first(conn: &mut AnyConnection, at: &MessageRef, now: i64) -> Result<(), sqlx::Error> {
    super::inbound::first_time(conn, DELETED_FIRST, &deleted_key(at), now).await?;
    Ok(())
}

/// The transcript line a platform message is (or shows), if any.
pub async fn line_at(conn: &mut AnyConnection, at: &MessageRef) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar(
        "select message_id from message_refs where platform = $1 and channel = $2 and message = $3 limit 1",
    )
    .bind(&at.platform)
    .bind(&at.channel)
    .bind(&at.message)
    .fetch_optional(conn)
    .await
}

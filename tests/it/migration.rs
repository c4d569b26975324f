//! Upgrading a database built by an earlier version: the per-platform columns it had
//! move into the tables keyed by platform, and the service shows the same data.

use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::store::Store;
use sqlx::AnyPool;
use sqlx::migrate::Migrator;
use std::borrow::Cow;

/// conversation, platform, channel, thread, root message.
type ThreadRow = (String, String, String, Option<String>, Option<String>);

/// The schema as it was before platform references had tables of their own.
async fn build_previous_schema(db: &Db) -> AnyPool {
    sqlx::any::install_default_drivers();
    let sqlite = db.url.starts_with("sqlite:");
    let url = if sqlite {
        format!("{}?mode=rwc", db.url)
    } else {
        db.url.clone()
    };
    let pool = AnyPool::connect(&url).await.expect("create the database");
    let mut migrator: Migrator = if sqlite {
        sqlx::migrate!("./migrations/sqlite")
    } else {
        sqlx::migrate!("./migrations/postgres")
    };
    migrator.migrations = Cow::Owned(migrator.migrations.iter().filter(|m| m.version <= 3).cloned().collect());
    migrator.run(&pool).await.expect("the previous migrations apply");
    pool
}

async fn exec(pool: &AnyPool, sql: &str) {
    sqlx::query(sql)
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

on_both_databases! {
    async fn platform_references_move_to_their_own_tables(db) {
        let pool = build_previous_schema(&db).await;
        exec(&pool, "insert into operators (workspace_id, name, role, presence, slack_user_id, discord_user_id, created_at) \
                     values (1, 'Ada', 'agent', 'available', 'U0ADA', '4242', 0)").await;
        exec(&pool, "insert into operators (workspace_id, name, role, presence, created_at) values (1, 'Bo', 'agent', 'available', 0)").await;
        exec(&pool, "insert into widgets (id, workspace_id, routing, slack_channel, discord_channel, created_at) \
                     values ('support', 1, 'manual', 'C0SUPPORT', '9000', 0)").await;
        exec(&pool, "insert into conversations (id, workspace_id, widget_id, status, version, slack_channel, slack_thread_ts, \
                     discord_channel_id, discord_thread_id, discord_root_message_id, created_at, updated_at) \
                     values ('c1', 1, 'support', 'handed_off', 1, 'C0SUPPORT', '1700000000.000100', '9000', '9001', '9002', 0, 0)").await;
        exec(&pool, "insert into conversations (id, workspace_id, widget_id, status, version, created_at, updated_at) \
                     values ('c2', 1, 'support', 'bot', 0, 0, 0)").await;
        exec(&pool, "insert into messages (conversation_id, author, text, at, slack_channel, slack_ts) \
                     values ('c1', 'visitor', 'Hi', 1, 'C0SUPPORT', '1700000000.000200')").await;
        exec(&pool, "insert into messages (conversation_id, author, text, at) values ('c1', 'bot', 'Hello', 2)").await;
        pool.close().await;

        // The current version migrates it at start.
        Store::connect(&db.url).await.expect("the upgrade applies");
        let pool = db.pool().await;
        let threads: Vec<ThreadRow> = sqlx::query_as(
            "select conversation_id, platform, channel, thread, root_message from conversation_refs order by conversation_id, platform")
            .fetch_all(&pool).await.unwrap();
        assert_eq!(threads, vec![
            ("c1".into(), "discord".into(), "9000".into(), Some("9001".into()), Some("9002".into())),
            ("c1".into(), "slack".into(), "C0SUPPORT".into(), Some("1700000000.000100".into()), Some("1700000000.000100".into())),
        ]);
        let lines: Vec<(String, String, String)> = sqlx::query_as(
            "select m.text, r.platform, r.message from message_refs r join messages m on m.id = r.message_id")
            .fetch_all(&pool).await.unwrap();
        assert_eq!(lines, vec![("Hi".into(), "slack".into(), "1700000000.000200".into())]);
        for gone in ["select slack_channel from conversations", "select slack_ts from messages",
                     "select slack_user_id from operators", "select discord_channel from widgets"] {
            assert!(sqlx::query(gone).fetch_all(&pool).await.is_err(), "{gone}: the old column is dropped");
        }
        pool.close().await;

        // The HTTP API shows the moved accounts and channels as before.
        let app = TestApp::spawn(&db).await;
        let (_, ops) = app.get("/v1/operators", ADMIN_TOKEN).await;
        assert_eq!(ops[0]["slack_user_id"], "U0ADA");
        assert_eq!(ops[0]["discord_user_id"], "4242");
        assert_eq!(ops[1]["slack_user_id"], serde_json::Value::Null);
        let (_, w) = app.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!((w["slack_channel"].as_str(), w["discord_channel"].as_str()), (Some("C0SUPPORT"), Some("9000")));
        assert_eq!(app.conversation("c1").await["transcript"].as_array().unwrap().len(), 2);
    }
}

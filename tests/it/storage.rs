//! The storage contract, run on both backends: the version check, inbound idempotency,
//! and the outbox's claims (head of each ordering key only, disjoint between workers,
//! leases that expire after a crash), and the send pace instances share.

use crate::helpers::*;
use crate::on_both_databases;
use handoff_bridge::engine::{Assignment, OperatorId, Status, WorkspaceId};
use handoff_bridge::store::conversations::{self as convs, NewConversation};
use handoff_bridge::store::outbox::{self, NewRow};
use handoff_bridge::store::pace::{self, Lane};
use handoff_bridge::store::{Backend, Store, inbound, now_ms, widgets};
use serde_json::json;

async fn store(db: &Db) -> Store {
    Store::connect(&db.url).await.expect("connect and migrate")
}

fn row(key: &str, n: i64) -> NewRow {
    NewRow {
        workspace_id: 1,
        target: "widget",
        kind: "assignment",
        ordering_key: key.into(),
        payload: json!({"n": n}),
    }
}

/// Polls `fut` up to `polls` times and drops it unless it finished by then.
async fn dropped_after_polls<F: std::future::Future>(fut: F, polls: usize) {
    let mut fut = std::pin::pin!(fut);
    let mut n = 0;
    std::future::poll_fn(|cx| {
        n += 1;
        match fut.as_mut().poll(cx) {
            std::task::Poll::Pending if n < polls => std::task::Poll::Pending,
            _ => std::task::Poll::Ready(()),
        }
    })
    .await
}

on_both_databases! {
    async fn two_instances_reserving_at_once_share_one_pace_and_one_hold(db) {
        // Two stores on one database, as two instances have.
        let (a, b) = (store(&db).await, store(&db).await);
        let lane = Lane { key: "slack:post:C1".into(), every_ms: 1000, burst: 20 };
        let now = 1_000_000;
        let reserve = |s: Store| {
            let lane = lane.clone();
            async move {
                let mut conn = s.read().await.unwrap();
                pace::reserve(&mut conn, &[lane], now).await.unwrap()
            }
        };
        let calls = (0..30).map(|n| reserve(if n % 2 == 0 { a.clone() } else { b.clone() }));
        let mut waits = futures_util::future::join_all(calls).await;
        waits.sort();
        let want: Vec<i64> = std::iter::repeat_n(0, 20).chain((1..=10).map(|n| n * 1000)).collect();
        assert_eq!(waits, want, "the burst once between them, then one a second");

        // A Retry-After seen by one holds the lane for the other, even for a slot it
        // reserved before the hold.
        let other = Lane { key: "slack:chat.update".into(), every_ms: 1200, burst: 50 };
        let mut conn_b = b.read().await.unwrap();
        assert_eq!(pace::reserve(&mut conn_b, std::slice::from_ref(&other), now).await.unwrap(), 0);
        let mut conn_a = a.read().await.unwrap();
        pace::hold(&mut conn_a, &other, now + 5000).await.unwrap();
        assert_eq!(pace::held(&mut conn_b, std::slice::from_ref(&other), now).await.unwrap(), 5000);
        assert_eq!(pace::reserve(&mut conn_b, std::slice::from_ref(&other), now).await.unwrap(), 5000);
        assert_eq!(pace::held(&mut conn_b, std::slice::from_ref(&other), now + 6000).await.unwrap(), 0);
    }

    async fn writes_cancelled_while_their_transaction_opens_lose_no_later_write(db) {
        let store = store(&db).await;
        // Writes dropped at every early point, as a timeout or a dropped request drops
        // them; nothing waits for them.
        for i in 0..300u64 {
            match i % 2 {
                0 => dropped_after_polls(store.write(), 1 + i as usize % 8).await,
                _ => {
                    let _ = tokio::time::timeout(std::time::Duration::from_micros(i % 10 * 30), store.write()).await;
                }
            }
            tokio::task::yield_now().await;
        }
        // Writes outside any transaction, each on whatever connection the pool hands out.
        for n in 0..60 {
            let mut conn = store.read().await.unwrap();
            let lane = Lane { key: format!("test:{n}"), every_ms: 1000, burst: 1 };
            pace::hold(&mut conn, &lane, 1).await.unwrap();
        }
        // Closing the pool ends every session: a write left inside a transaction that a
        // cancelled `BEGIN` opened would be rolled back now.
        store.close().await;
        let again = self::store(&db).await;
        let mut conn = again.read().await.unwrap();
        let kept: i64 = sqlx::query_scalar("select count(*) from send_pace where lane like 'test:%'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(kept, 60, "every write outside a transaction was kept");
    }

    async fn a_write_with_an_old_version_changes_nothing(db) {
        let store = store(&db).await;
        let mut tx = store.write().await.unwrap();
        widgets::ensure(tx.conn(), WorkspaceId(1), "w", 0).await.unwrap();
        let new = NewConversation { id: "c1", workspace: WorkspaceId(1), widget: "w", visitor_name: None, visitor_email: None, summary: None, reason: None, now: 0 };
        let inserted = convs::insert(tx.conn(), &new).await.unwrap();
        assert_eq!((inserted.version, inserted.status.as_str()), (0, "bot"));
        let a = Assignment { status: Status::HandedOff, assignee: None, team: None };
        let written = convs::write_assignment(tx.conn(), "c1", 0, &a, None, 1).await.unwrap().expect("version 0 holds");
        assert_eq!((written.version, written.status.as_str(), written.updated_at), (1, "handed_off", 1), "the row as written");
        let b = Assignment { status: Status::Active, assignee: None, team: None };
        assert!(convs::write_assignment(tx.conn(), "c1", 0, &b, None, 2).await.unwrap().is_none(), "version 0 is gone");
        let c = convs::get(tx.conn(), "c1").await.unwrap().unwrap();
        assert_eq!((c.version, c.status.as_str()), (1, "handed_off"));
        tx.commit().await.unwrap();
    }

    async fn an_inbound_event_id_is_recorded_once(db) {
        let store = store(&db).await;
        let mut tx = store.write().await.unwrap();
        assert!(inbound::first_time(tx.conn(), "slack", "Ev1", 0).await.unwrap());
        assert!(!inbound::first_time(tx.conn(), "slack", "Ev1", 0).await.unwrap());
        assert!(inbound::first_time(tx.conn(), "widget", "Ev1", 0).await.unwrap(), "ids are per source");
        tx.commit().await.unwrap();
    }

    async fn the_outbox_hands_out_only_the_head_of_each_key_and_never_the_same_row_twice(db) {
        let store = store(&db).await;
        let mut tx = store.write().await.unwrap();
        for n in 0..3 {
            outbox::enqueue(tx.conn(), &row("a", n), 0).await.unwrap();
            outbox::enqueue(tx.conn(), &row("b", n), 0).await.unwrap();
        }
        for n in 0..10 {
            outbox::enqueue(tx.conn(), &row(&format!("k{n}"), n), 0).await.unwrap();
        }
        tx.commit().await.unwrap();
        let now = now_ms();
        // Two workers claim at once: disjoint, and only one row of `a` and of `b`.
        let claim = || async {
            let mut tx = store.write().await.unwrap();
            let rows = outbox::claim(tx.conn(), now, now + 60_000, 100, store.backend() == Backend::Postgres, &[]).await.unwrap();
            tx.commit().await.unwrap();
            rows
        };
        let (x, y) = tokio::join!(claim(), claim());
        let mut ids: Vec<i64> = x.iter().chain(y.iter()).map(|r| r.id).collect();
        let total = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), total, "no row went to both workers");
        assert_eq!(total, 12, "10 single rows and the heads of a and b");
        let a: Vec<_> = x.iter().chain(y.iter()).filter(|r| r.ordering_key == "a").collect();
        assert_eq!(a.len(), 1);
        assert_eq!(a[0].payload, json!({"n": 0}).to_string());
        // Until the head is done, nothing behind it moves; then the next one does.
        assert!(claim().await.is_empty());
        let mut tx = store.write().await.unwrap();
        outbox::mark_done(tx.conn(), a[0], now).await.unwrap();
        tx.commit().await.unwrap();
        let next = claim().await;
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].payload, json!({"n": 1}).to_string());
        assert_eq!(next[0].claims, 1);
        // A crashed worker's lease runs out: the row is claimed again, and says so.
        let later = now + 120_000;
        let mut tx = store.write().await.unwrap();
        let again = outbox::claim(tx.conn(), later, later + 60_000, 100, store.backend() == Backend::Postgres, &[]).await.unwrap();
        tx.commit().await.unwrap();
        let again_a: Vec<_> = again.iter().filter(|r| r.ordering_key == "a").collect();
        assert_eq!(again_a.len(), 1);
        assert_eq!((again_a[0].id, again_a[0].claims), (next[0].id, 2));
    }

    async fn rows_written_together_keep_their_order_and_a_row_behind_one_in_flight_is_not_due(db) {
        let store = store(&db).await;
        let mut tx = store.write().await.unwrap();
        let rows: Vec<NewRow> = (0..4).map(|n| row(if n % 2 == 0 { "a" } else { "b" }, n)).collect();
        outbox::enqueue_all(tx.conn(), &rows, 100).await.unwrap();
        tx.commit().await.unwrap();
        let mut conn = store.read().await.unwrap();
        let written: Vec<(i64, String, String)> =
            sqlx::query_as("select id, ordering_key, payload from outbox order by id").fetch_all(&mut *conn).await.unwrap();
        let payloads: Vec<String> = written.iter().map(|(_, _, p)| p.clone()).collect();
        let expected: Vec<String> = (0..4).map(|n| json!({"n": n}).to_string()).collect();
        assert_eq!(payloads, expected, "ids in the order the rows were given");
        assert_eq!(outbox::next_due(&mut conn).await.unwrap(), Some(100));
        drop(conn);
        // The heads are claimed: what is behind them is not due until they are done;
        // the heads' leases are.
        let mut tx = store.write().await.unwrap();
        let claimed = outbox::claim(tx.conn(), 200, 5_000, 100, store.backend() == Backend::Postgres, &[]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(claimed.len(), 2);
        let mut conn = store.read().await.unwrap();
        assert_eq!(outbox::next_due(&mut conn).await.unwrap(), Some(5_000), "the leases, not the rows behind them");
        drop(conn);
        // Rows this worker is delivering are left out of a claim, however many.
        let busy: Vec<i64> = claimed.iter().map(|r| r.id).collect();
        let mut tx = store.write().await.unwrap();
        let after_lease = outbox::claim(tx.conn(), 6_000, 60_000, 100, store.backend() == Backend::Postgres, &busy).await.unwrap();
        tx.commit().await.unwrap();
        assert!(after_lease.is_empty(), "{after_lease:?}");
        let mut tx = store.write().await.unwrap();
        let others = outbox::claim(tx.conn(), 6_000, 60_000, 100, store.backend() == Backend::Postgres, &busy[..1]).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(others.iter().map(|r| r.id).collect::<Vec<_>>(), vec![busy[1]]);
    }
}

on_both_databases! {
    async fn corrupt_stored_text_is_an_error_not_a_default(db) {
        let app = TestApp::spawn(&db).await;
        let ada = app.operator("Ada", "agent").await;
        app.handoff("c1", "support").await;
        let (s, _) = app.get(&format!("/v1/operators/{}", ada.id), ADMIN_TOKEN).await;
        assert_eq!(s, reqwest::StatusCode::OK);
        sqlx::query("update operators set role = 'superuser' where id = $1").bind(ada.id).execute(&app.pool).await.unwrap();
        // Neither shown as an agent nor let in as one: the service says it cannot read it.
        let (s, body) = app.get(&format!("/v1/operators/{}", ada.id), ADMIN_TOKEN).await;
        assert_eq!((s, body["error"]["code"].as_str()), (reqwest::StatusCode::INTERNAL_SERVER_ERROR, Some("internal")), "{body}");
        let (s, _) = app.get("/v1/conversations", &ada.token).await;
        assert_eq!(s, reqwest::StatusCode::INTERNAL_SERVER_ERROR);

        sqlx::query("update operators set role = 'agent'").execute(&app.pool).await.unwrap();
        sqlx::query("update conversations set status = 'limbo' where id = 'c1'").execute(&app.pool).await.unwrap();
        let (s, _) = app.get("/v1/conversations/c1", ADMIN_TOKEN).await;
        assert_eq!(s, reqwest::StatusCode::INTERNAL_SERVER_ERROR, "a corrupt status is not read as `bot`");
    }
}

/// Operators with random presence, capacity and history, conversations assigned to
/// them at random, declines at random: the ground for comparing a narrowed pick with
/// one over the whole pool.
async fn random_pool(tx: &mut handoff_bridge::store::Tx, rng: &mut rand::rngs::StdRng, base: i64) -> Vec<OperatorId> {
    use rand::Rng;
    let mut ids = Vec::new();
    for n in 0..rng.random_range(0..12) {
        let presence = if rng.random_bool(0.7) { "available" } else { "away" };
        let capacity: Option<i64> = rng.random_bool(0.4).then(|| rng.random_range(0..3));
        // Few distinct times, so ties are common.
        let last: Option<i64> = rng.random_bool(0.6).then(|| rng.random_range(0..3));
        let id: i64 = sqlx::query_scalar(
            "insert into operators (workspace_id, name, presence, capacity, last_assigned_at, created_at) \
             values (1, $1, $2, $3, $4, 0) returning id",
        )
        .bind(format!("op-{base}-{n}"))
        .bind(presence)
        .bind(capacity)
        .bind(last)
        .fetch_one(tx.conn())
        .await
        .unwrap();
        ids.push(OperatorId(id));
    }
    ids
}

on_both_databases! {
    async fn the_open_chats_kept_on_each_operator_match_a_count_after_any_writes(db) {
        use rand::{Rng, SeedableRng};
        let store = store(&db).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        let mut tx = store.write().await.unwrap();
        widgets::ensure(tx.conn(), WorkspaceId(1), "w", 0).await.unwrap();
        let ops = random_pool(&mut tx, &mut rng, 0).await;
        let ops = if ops.is_empty() { random_pool(&mut tx, &mut rng, 1).await } else { ops };
        let statuses = [Status::Bot, Status::HandedOff, Status::Active, Status::Resolved];
        let mut versions = std::collections::HashMap::new();
        let mut assignees: std::collections::HashMap<String, Option<OperatorId>> = Default::default();
        let mut last: std::collections::HashMap<i64, Option<i64>> =
            sqlx::query_as("select id, last_assigned_at from operators").fetch_all(tx.conn()).await.unwrap().into_iter().collect();
        for step in 0..300 {
            let conv = format!("c{}", rng.random_range(0..20));
            let version = match versions.get(&conv) {
                Some(v) => *v,
                None => {
                    let new = NewConversation { id: &conv, workspace: WorkspaceId(1), widget: "w", visitor_name: None, visitor_email: None, summary: None, reason: None, now: step };
                    convs::insert(tx.conn(), &new).await.unwrap().version
                }
            };
            let a = Assignment {
                status: statuses[rng.random_range(0..4)],
                assignee: rng.random_bool(0.8).then(|| ops[rng.random_range(0..ops.len())]),
                team: None,
            };
            let row = convs::write_assignment(tx.conn(), &conv, version, &a, None, step).await.unwrap().unwrap();
            if let Some(op) = a.assignee.filter(|op| assignees.get(&conv) != Some(&Some(*op))) {
                last.insert(op.0, Some(step));
            }
            assignees.insert(conv.clone(), a.assignee);
            versions.insert(conv, row.version);
        }
        let kept: Vec<(i64, i64)> = sqlx::query_as("select id, open_chats from operators order by id").fetch_all(tx.conn()).await.unwrap();
        let counted: Vec<(i64, i64)> = sqlx::query_as(
            "select o.id, (select count(*) from conversations c where c.assignee_id = o.id \
             and c.status in ('handed_off', 'active')) from operators o order by o.id",
        )
        .fetch_all(tx.conn())
        .await
        .unwrap();
        assert_eq!(kept, counted);
        assert!(kept.iter().any(|(_, n)| *n > 0), "some are open: {kept:?}");
        let stamped: std::collections::HashMap<i64, Option<i64>> =
            sqlx::query_as("select id, last_assigned_at from operators").fetch_all(tx.conn()).await.unwrap().into_iter().collect();
        assert_eq!(stamped, last, "a new assignee is stamped with the time of the write");
        tx.commit().await.unwrap();
    }

    async fn the_narrowed_pick_is_the_pick_over_the_whole_pool(db) {
        use handoff_bridge::engine::RoutingMode;
        use handoff_bridge::engine::routing::pick;
        use handoff_bridge::store::operators::{self, Pool};
        use rand::{Rng, SeedableRng};
        let store = store(&db).await;
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut tx = store.write().await.unwrap();
        widgets::ensure(tx.conn(), WorkspaceId(1), "w", 0).await.unwrap();
        let mut picked = 0;
        for round in 0..60 {
            // Each round starts from an empty directory.
            for table in ["declines", "team_members", "widget_eligible", "conversations", "operators", "teams"] {
                sqlx::query(&format!("delete from {table}")).execute(tx.conn()).await.unwrap();
            }
            let ops = random_pool(&mut tx, &mut rng, round).await;
            for (n, op) in ops.iter().enumerate() {
                let status = if rng.random_bool(0.5) { "active" } else { "resolved" };
                for k in 0..rng.random_range(0..3) {
                    sqlx::query("insert into conversations (id, workspace_id, widget_id, status, assignee_id, created_at, updated_at) values ($1, 1, 'w', $2, $3, 0, 0)")
                        .bind(format!("open-{n}-{k}")).bind(status).bind(op.0).execute(tx.conn()).await.unwrap();
                }
            }
            sqlx::query("insert into conversations (id, workspace_id, widget_id, status, created_at, updated_at) values ('c', 1, 'w', 'handed_off', 0, 0)")
                .execute(tx.conn()).await.unwrap();
            let mut declined = Vec::new();
            for op in &ops {
                if rng.random_bool(0.2) {
                    convs::add_decline(tx.conn(), "c", *op, 0).await.unwrap();
                    declined.push(*op);
                }
            }
            let team: i64 = sqlx::query_scalar("insert into teams (workspace_id, name, created_at) values (1, 't', 0) returning id")
                .fetch_one(tx.conn()).await.unwrap();
            let listed = rng.random_bool(0.5);
            for op in &ops {
                if rng.random_bool(0.6) {
                    sqlx::query("insert into team_members (team_id, operator_id) values ($1, $2)").bind(team).bind(op.0).execute(tx.conn()).await.unwrap();
                }
                if listed && rng.random_bool(0.6) {
                    sqlx::query("insert into widget_eligible (widget_id, operator_id) values ('w', $1)").bind(op.0).execute(tx.conn()).await.unwrap();
                }
            }
            let cursor = (!ops.is_empty() && rng.random_bool(0.7)).then(|| ops[rng.random_range(0..ops.len())]);
            for pool in [Pool::Widget(WorkspaceId(1), "w"), Pool::Team(team)] {
                for mode in [RoutingMode::RoundRobin, RoutingMode::LightestLoad, RoutingMode::Manual] {
                    let whole = operators::pool(tx.conn(), pool).await.unwrap();
                    let narrowed = operators::pickable(tx.conn(), pool, mode, "c", cursor).await.unwrap();
                    assert!(narrowed.len() <= 2, "{narrowed:?}");
                    let want = pick(mode, &whole, cursor, &declined);
                    assert_eq!(pick(mode, &narrowed, cursor, &[]), want, "round {round}, {pool:?}, {mode:?}, cursor {cursor:?}");
                    picked += usize::from(want.is_some());
                }
            }
        }
        assert!(picked > 40, "most rounds pick someone: {picked}");
        tx.commit().await.unwrap();
    }
}

//! `/metrics` (`README.md#operating-it`): behind its token when one is set, and carrying
//! every series the Grafana dashboard in `manifests/grafana/` reads, with the labels it
//! reads them by, after a conversation's life on both platforms. The recorder is shared
//! by every service in this test process, so values are not this test's own: what is
//! checked is that each series is there.

use crate::both_platforms;
use crate::discord_helpers;
use crate::on_both_databases;
use crate::slack_helpers::{self, ADA, CHANNEL};
use handoff_bridge::standins::widget::WidgetClient;
use reqwest::StatusCode;

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

/// The metric names a PromQL expression reads.
fn names_in(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("handoff_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        names.push(name);
    }
    names
}

/// Whether the exposition has a sample of `name` with all these `label="value"` pairs.
fn has(text: &str, name: &str, labels: &[(&str, &str)]) -> bool {
    text.lines().any(|l| {
        l.strip_prefix(name)
            .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            && labels.iter().all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
    })
}

on_both_databases! {
    async fn metrics_carry_every_series_the_dashboard_reads_and_want_their_token(db) {
        let b = both_platforms::spawn_with(&db, &[("HANDOFF_METRICS_TOKEN", METRICS_TOKEN)]).await;
        let s = &b.d;
        s.app.handoff("c1", "support").await;
        s.settle().await;
        // Accepted in Discord, unassigned in Slack.
        let accept = s.click(discord_helpers::ADA, "c1", "Accept").await;
        s.answered(&accept, 1).await;
        s.until("c1", "Ada to have it", |c| c["status"] == "active").await;
        s.settle().await;
        let ts: String = sqlx::query_scalar("select thread from conversation_refs where conversation_id = 'c1' and platform = 'slack'")
            .fetch_one(&s.pool)
            .await
            .unwrap();
        let root = b.slack.message(CHANNEL, &ts).unwrap();
        let value = slack_helpers::buttons_of(&root.blocks).into_iter().find(|(a, _, _)| a == "hb_unassign").unwrap().2;
        let message = b.slack.message_json(CHANNEL, &ts).unwrap();
        let res = b.sender.block_action(ADA, CHANNEL, &ts, message, "hb_unassign", &value).await;
        assert_eq!(res.status(), StatusCode::OK);
        // A widget event signed with the wrong secret is refused.
        let forged = WidgetClient::new(&s.base, "not-the-widget-secret-at-all");
        let res = forged.try_send(&WidgetClient::message_event("c1", "visitor", "hi")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        s.settle().await;

        // Without the token, or with another: 401.
        let url = s.url("/metrics");
        for auth in [None, Some("Bearer not-the-token-0123456789")] {
            let mut req = s.http.get(&url);
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            assert_eq!(req.send().await.unwrap().status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        }
        let res = s.http.get(&url).bearer_auth(METRICS_TOKEN).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let text = res.text().await.unwrap();

        // The series, by the labels the dashboard and the docs name.
        let want: &[(&str, &[(&str, &str)])] = &[
            ("handoff_events_in_total", &[("source", "widget"), ("result", "ok")]),
            ("handoff_events_in_total", &[("source", "slack_interaction"), ("result", "ok")]),
            ("handoff_events_in_total", &[("source", "discord_interaction"), ("result", "ok")]),
            ("handoff_inbound_refused_total", &[("route", "/v1/widget/events"), ("status", "401")]),
            ("handoff_actions_total", &[("kind", "claim"), ("result", "done")]),
            ("handoff_actions_total", &[("kind", "unassign"), ("result", "done")]),
            ("handoff_outbox_rows", &[("target", "slack"), ("status", "pending")]),
            ("handoff_outbox_rows", &[("target", "discord"), ("status", "dead")]),
            ("handoff_outbox_rows", &[("target", "widget"), ("status", "inflight")]),
            ("handoff_outbox_oldest_age_seconds", &[("target", "slack")]),
            ("handoff_outbox_deliveries_total", &[("target", "slack"), ("result", "delivered")]),
            ("handoff_outbox_deliveries_total", &[("target", "discord"), ("result", "delivered")]),
            ("handoff_interaction_ack_seconds_bucket", &[("platform", "slack")]),
            ("handoff_interaction_ack_seconds_bucket", &[("platform", "discord")]),
            ("handoff_outbox_latency_seconds_bucket", &[("target", "slack"), ("kind", "open_thread")]),
            ("handoff_outbox_latency_seconds_bucket", &[("target", "discord"), ("kind", "open_thread")]),
            ("handoff_conversations", &[("status", "handed_off")]),
            ("handoff_conversations", &[("status", "active")]),
            ("handoff_http_request_seconds_bucket", &[("route", "/v1/widget/events")]),
        ];
        for (name, labels) in want {
            assert!(has(&text, name, labels), "{name} {labels:?} in:\n{text}");
        }

        // Every series a dashboard panel reads is served.
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/manifests/grafana/handoff-bridge.json")).unwrap())
                .unwrap();
        let panels = dashboard["panels"].as_array().unwrap();
        assert!(panels.len() >= 8);
        for panel in panels {
            for target in panel["targets"].as_array().unwrap() {
                let expr = target["expr"].as_str().unwrap();
                for name in names_in(expr) {
                    assert!(has(&text, &name, &[]), "panel `{}` reads {name}, which /metrics does not serve", panel["title"]);
                }
            }
        }
        // The platform calls of the conversation's life are other tests' subject.
        s.discord.take_calls();
        b.slack.take_calls();
        s.finish().await;
    }
}

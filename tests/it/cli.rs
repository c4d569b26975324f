//! The `handoff-bridge` command itself: configuration errors, declared widgets, operators
//! and teams, and a graceful stop on SIGTERM.

use crate::helpers::*;
use crate::on_both_databases;
use crate::outbox::start_process;
use reqwest::StatusCode;
use serde_json::json;
use std::process::Command;

fn bridge() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_handoff-bridge"));
    cmd.env_clear();
    cmd
}

#[test]
fn check_config_names_every_bad_setting_and_its_fix() {
    let out = bridge()
        .arg("check-config")
        .env("DATABASE_URL", "mysql://nope")
        .env("HANDOFF_LISTEN", "not-an-address")
        .env("HANDOFF_SLACK_BOT_TOKEN", "xoxb-secret-value")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    for setting in ["DATABASE_URL", "HANDOFF_LISTEN", "HANDOFF_SLACK_SIGNING_SECRET"] {
        assert!(text.contains(setting), "{setting} is named in:\n{text}");
    }
    assert!(text.contains("fix:"), "{text}");
    assert!(!text.contains("xoxb-secret-value"), "a secret was echoed:\n{text}");

    let ok = bridge().arg("check-config").output().unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("configuration OK"));
}

#[test]
fn check_config_checks_socket_mode_and_warns_of_a_public_url_beside_it() {
    let slack = |cmd: &mut Command| {
        cmd.arg("check-config")
            .env("HANDOFF_SLACK_BOT_TOKEN", "xoxb-1")
            .env("HANDOFF_SLACK_SIGNING_SECRET", "s3cret");
    };
    let mut bad = bridge();
    slack(&mut bad);
    let out = bad.env("HANDOFF_SLACK_APP_TOKEN", "xoxp-user-token").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("HANDOFF_SLACK_APP_TOKEN") && text.contains("xapp-"),
        "{text}"
    );
    assert!(!text.contains("xoxp-user-token"), "a secret was echoed:\n{text}");

    let mut both = bridge();
    slack(&mut both);
    let out = both
        .env("HANDOFF_SLACK_APP_TOKEN", "xapp-1-A1-abc")
        .env("HANDOFF_PUBLIC_URL", "https://bridge.example.com")
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Slack on (Socket Mode)"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("warning: HANDOFF_PUBLIC_URL")),
        "{text}"
    );
}

#[test]
fn serve_refuses_a_bad_configuration_in_one_line() {
    let out = bridge().arg("serve").env("HANDOFF_LOG_FORMAT", "xml").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("HANDOFF_LOG_FORMAT") && err.contains("pretty or json"),
        "{err}"
    );
}

const SEED: &str = r#"
[[operators]]
name = "Ada"
role = "manager"
capacity = 2

[[operators]]
name = "Bo"
slack_user_id = "U0BO"

[[teams]]
name = "billing"
members = ["Ada", "Bo"]

[[widgets]]
id = "support"
routing = "round-robin"
eligible = ["Bo"]
slack_channel = "C0SUPPORT"
"#;

on_both_databases! {
    async fn declared_widgets_operators_and_teams_are_applied_at_every_start(db) {
        let app = TestApp::spawn_with_config(&db, SEED).await;
        let (_, ops) = app.get("/v1/operators", ADMIN_TOKEN).await;
        assert_eq!(ops.as_array().unwrap().len(), 2);
        assert_eq!(ops[0]["role"], "manager");
        assert_eq!(ops[0]["capacity"], 2);
        assert_eq!(ops[1]["slack_user_id"], "U0BO");
        let (_, w) = app.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!(w["routing"], "round-robin");
        assert_eq!(w["slack_channel"], "C0SUPPORT");
        assert_eq!(w["eligible"][0]["name"], "Bo");
        let (_, teams) = app.get("/v1/teams", ADMIN_TOKEN).await;
        assert_eq!(teams[0]["members"].as_array().unwrap().len(), 2);
        let c = app.handoff("c1", "support").await;
        assert_eq!(c["assignee"]["name"], "Bo", "only Bo is eligible");

        let app = app.restart(&db).await;
        let (_, ops) = app.get("/v1/operators", ADMIN_TOKEN).await;
        assert_eq!(ops.as_array().unwrap().len(), 2, "a restart does not duplicate anything");
        let (_, teams) = app.get("/v1/teams", ADMIN_TOKEN).await;
        assert_eq!(teams.as_array().unwrap().len(), 1);
    }

    async fn sigterm_stops_the_service_cleanly_even_with_a_stream_open(db) {
        let widget = handoff_bridge::standins::widget::WidgetPlatform::start(WIDGET_SECRET).await;
        let env = test_env(&db, &widget);
        let (mut child, base) = start_process(&env).await;
        let http = reqwest::Client::new();
        let mut stream = http.get(format!("{base}/v1/events")).bearer_auth(ADMIN_TOKEN).send().await.unwrap();
        assert_eq!(stream.status(), StatusCode::OK);
        let (s, _) = (http.post(format!("{base}/v1/operators")).bearer_auth(ADMIN_TOKEN).json(&json!({"name": "Ada"})).send().await.unwrap().status(), ());
        assert_eq!(s, StatusCode::CREATED);

        let kill = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let status = eventually("the process to exit", || {
            let status = child.try_wait().unwrap();
            async move { status }
        })
        .await;
        assert!(status.success(), "exit status {status:?}");
        // The open stream was ended by the shutdown, not cut off mid-event.
        let rest = tokio::time::timeout(DEADLINE, async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
        assert!(rest.is_ok(), "the event stream ended");
    }
}

use super::*;
use crate::engine::TakeoverPolicy;
use std::collections::HashMap;

fn load(toml: Option<&str>, env: &[(&str, &str)]) -> Result<Settings, Vec<Problem>> {
    let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    if let Some(t) = toml {
        std::fs::write(&path, t).unwrap();
    }
    Settings::load_with(toml.map(|_| path.as_path()), &|k| env.get(k).cloned())
}

#[test]
fn defaults_run_on_sqlite_with_everything_off() {
    let s = load(None, &[]).unwrap();
    assert_eq!(s.database_url.expose_secret(), DEFAULT_DATABASE_URL);
    assert_eq!(s.listen.to_string(), DEFAULT_LISTEN);
    assert!(s.admin_token.is_none() && s.slack.is_none() && s.discord.is_none() && s.widget.is_none());
}

#[test]
fn the_environment_wins_over_the_file() {
    let s = load(
        Some("listen = \"127.0.0.1:9000\"\n[workspace]\ntakeover = \"never\"\n"),
        &[("HANDOFF_LISTEN", "127.0.0.1:9100")],
    )
    .unwrap();
    assert_eq!(s.listen.port(), 9100);
    assert_eq!(s.policy.takeover, TakeoverPolicy::Never);
}

#[test]
fn secrets_come_from_files_and_never_print() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tok");
    std::fs::write(&p, "a-very-long-admin-token-value\n").unwrap();
    let s = load(None, &[("HANDOFF_ADMIN_TOKEN_FILE", p.to_str().unwrap())]).unwrap();
    assert_eq!(
        s.admin_token.as_ref().unwrap().expose_secret(),
        "a-very-long-admin-token-value"
    );
    assert!(!format!("{s:?}").contains("a-very-long-admin-token-value"));
}

#[test]
fn every_problem_is_named_with_its_fix() {
    let problems = load(
        Some("[[widgets]]\nid = \"w\"\nrouting = \"random\"\neligible = [\"Nobody\"]\n"),
        &[
            ("DATABASE_URL", "mysql://x"),
            ("HANDOFF_LISTEN", "nope"),
            ("HANDOFF_SLACK_BOT_TOKEN", "xoxb-1"),
        ],
    )
    .unwrap_err();
    let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
    assert!(settings.contains(&"DATABASE_URL"), "{settings:?}");
    assert!(settings.contains(&"HANDOFF_LISTEN"));
    assert!(settings.contains(&"HANDOFF_SLACK_SIGNING_SECRET"));
    assert!(settings.contains(&"[[widgets]] w.routing"));
    assert!(settings.contains(&"[[widgets]] w.eligible"));
    assert!(problems.iter().all(|p| !p.fix.is_empty()));
}

#[test]
fn widget_timers_are_read_and_bad_ones_named() {
    let s = load(
        Some("[[widgets]]\nid = \"w\"\naccept_within = \"5m\"\nreply_within = \"off\"\n"),
        &[],
    )
    .unwrap();
    let (accept, reply) = s.seed.widgets[0].timers();
    assert_eq!(accept.map(|w| w.map(|w| w.as_millis())), Some(Some(300_000)));
    assert_eq!(reply, Some(None), "off switches it off");
    let problems = load(
        Some("[[widgets]]\nid = \"w\"\naccept_within = \"soon\"\nreply_within = \"48h\"\n"),
        &[],
    )
    .unwrap_err();
    let named: Vec<(&str, &str)> = problems
        .iter()
        .map(|p| (p.setting.as_str(), p.message.as_str()))
        .collect();
    assert!(
        named.contains(&(
            "[[widgets]] w.accept_within",
            "`soon` is not a duration: write it like `5m`, `90s` or `1h 30m`, or `off`"
        )),
        "{named:?}"
    );
    assert!(
        named
            .iter()
            .any(|(s, m)| *s == "[[widgets]] w.reply_within" && m.contains("longer than the longest timer")),
        "{named:?}"
    );
}

#[test]
fn escalation_targets_are_read_and_bad_ids_named() {
    let s = load(
        Some("[[widgets]]\nid = \"w\"\nslack_escalation = \"S0TRIAGE\"\ndiscord_escalation = \"700000000000000555\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        s.seed.widgets[0].escalations(),
        [("slack", Some("S0TRIAGE")), ("discord", Some("700000000000000555"))]
    );
    let problems = load(
        Some("[[widgets]]\nid = \"w\"\nslack_escalation = \"@triage\"\ndiscord_escalation = \"Moderators\"\n"),
        &[],
    )
    .unwrap_err();
    let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
    assert!(settings.contains(&"[[widgets]] w.slack_escalation"), "{settings:?}");
    assert!(settings.contains(&"[[widgets]] w.discord_escalation"), "{settings:?}");
}

#[test]
fn a_toml_typo_is_reported() {
    let problems = load(Some("listne = 1"), &[]).unwrap_err();
    assert!(problems[0].setting.starts_with("config file"), "{problems:?}");
    assert!(problems[0].message.contains("listne"), "{problems:?}");
}

#[test]
fn passwords_are_redacted() {
    assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
    assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
}

#[test]
fn discord_settings_are_checked_for_ids_and_a_bare_token() {
    let problems = load(
        Some(
            "[discord]\nadmins = [\"max\"]\n[[operators]]\nname = \"Ada\"\ndiscord_user_id = \"@ada\"\n\
             [[widgets]]\nid = \"w\"\ndiscord_channel = \"#support\"\n",
        ),
        &[
            ("HANDOFF_DISCORD_BOT_TOKEN", "Bot abc.def.ghi"),
            ("HANDOFF_DISCORD_APPLICATION_ID", "1100000000000000002"),
            ("HANDOFF_DISCORD_DEFAULT_CHANNEL", "general"),
        ],
    )
    .unwrap_err();
    let settings: Vec<&str> = problems.iter().map(|p| p.setting.as_str()).collect();
    for expected in [
        "HANDOFF_DISCORD_BOT_TOKEN",
        "HANDOFF_DISCORD_DEFAULT_CHANNEL",
        "[discord].admins",
        "[[operators]] #1 (Ada).discord_user_id",
        "[[widgets]] w.discord_channel",
    ] {
        assert!(settings.contains(&expected), "{expected} in {settings:?}");
    }
    let ok = load(
        None,
        &[
            ("HANDOFF_DISCORD_BOT_TOKEN", "abc.def.ghi"),
            ("HANDOFF_DISCORD_APPLICATION_ID", "1100000000000000002"),
            ("HANDOFF_DISCORD_DEFAULT_CHANNEL", "700000000000000010"),
        ],
    )
    .unwrap();
    assert_eq!(ok.discord.unwrap().application_id, 1_100_000_000_000_000_002);
}

#[test]
fn a_short_widget_secret_is_refused() {
    let problems = load(None, &[("HANDOFF_WIDGET_SECRET", "short")]).unwrap_err();
    assert_eq!(problems[0].setting, "HANDOFF_WIDGET_SECRET");
    assert!(load(None, &[("HANDOFF_WIDGET_SECRET", "a-long-enough-secret")]).is_ok());
}

#[test]
fn a_slack_token_that_is_not_a_bot_token_is_refused_without_being_echoed() {
    for (token, says) in [
        ("xoxp-1234-user", "user token"),
        ("xapp-1-A1-app", "app-level token"),
        ("Bearer xoxb-1", "more than the token"),
        ("abc123", "start with xoxb-"),
    ] {
        let problems = load(
            None,
            &[
                ("HANDOFF_SLACK_BOT_TOKEN", token),
                ("HANDOFF_SLACK_SIGNING_SECRET", "s3cret"),
            ],
        )
        .unwrap_err();
        let p = problems
            .iter()
            .find(|p| p.setting == "HANDOFF_SLACK_BOT_TOKEN")
            .unwrap_or_else(|| panic!("{token}: {problems:?}"));
        assert!(p.message.contains(says), "{token}: {}", p.message);
        assert!(!format!("{problems:?}").contains(token), "the token was echoed");
    }
}

#[test]
fn socket_mode_wants_an_app_level_token() {
    let base = [
        ("HANDOFF_SLACK_BOT_TOKEN", "xoxb-1"),
        ("HANDOFF_SLACK_SIGNING_SECRET", "s3cret"),
    ];
    let ok = load(None, &[base[0], base[1], ("HANDOFF_SLACK_APP_TOKEN", "xapp-1-A1-abc")]).unwrap();
    assert!(ok.slack.unwrap().app_token.is_some());
    let problems = load(None, &[base[0], base[1], ("HANDOFF_SLACK_APP_TOKEN", "xoxb-oops")]).unwrap_err();
    let p = problems
        .iter()
        .find(|p| p.setting == "HANDOFF_SLACK_APP_TOKEN")
        .expect("a problem");
    assert!(
        p.message.contains("xapp-") && p.fix.contains("connections:write"),
        "{p}"
    );
    assert!(!format!("{problems:?}").contains("xoxb-oops"), "the token was echoed");
    assert!(load(None, &base).unwrap().slack.unwrap().app_token.is_none());
}

#[test]
fn file_settings_have_defaults_and_refuse_what_they_cannot_read() {
    let s = load(None, &[]).unwrap();
    assert_eq!(s.files.max_bytes, 25 * 1024 * 1024);
    assert!(s.files.types.iter().any(|t| t == "image/*"));
    assert_eq!(s.files.link_ttl, std::time::Duration::from_secs(24 * 3600));
    let s = load(
        Some("[files]\nmax_bytes = 1000\ntypes = [\"application/pdf\"]\nlink_ttl = \"2h\"\n"),
        &[],
    )
    .unwrap();
    assert_eq!(
        (s.files.max_bytes, s.files.types.clone()),
        (1000, vec!["application/pdf".to_owned()])
    );
    assert_eq!(s.files.link_ttl, std::time::Duration::from_secs(7200));
    let problems = load(
        None,
        &[
            ("HANDOFF_FILES_TYPES", "pdf, image/*"),
            ("HANDOFF_FILES_LINK_TTL", "30d"),
            ("HANDOFF_FILES_MAX_BYTES", "lots"),
        ],
    )
    .unwrap_err();
    let said: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        said.iter()
            .any(|p| p.contains("HANDOFF_FILES_TYPES") && p.contains("`pdf`")),
        "{said:?}"
    );
    assert!(
        said.iter()
            .any(|p| p.contains("HANDOFF_FILES_LINK_TTL") && p.contains("out of range")),
        "{said:?}"
    );
    assert!(said.iter().any(|p| p.contains("HANDOFF_FILES_MAX_BYTES")), "{said:?}");
}

#[test]
fn sending_files_without_a_public_url_is_warned_about() {
    let env = [
        ("HANDOFF_WIDGET_SECRET", "a-widget-secret-of-some-length"),
        ("HANDOFF_WIDGET_API_URL", "https://widgets.example.com/api"),
        ("HANDOFF_SLACK_BOT_TOKEN", "xoxb-1"),
        ("HANDOFF_SLACK_SIGNING_SECRET", "s"),
    ];
    let s = load(None, &env).unwrap();
    assert!(
        s.warnings().iter().any(|w| w.contains("HANDOFF_PUBLIC_URL is not set")),
        "{:?}",
        s.warnings()
    );
    let mut with_url = env.to_vec();
    with_url.push(("HANDOFF_PUBLIC_URL", "https://bridge.example.com"));
    assert!(load(None, &with_url).unwrap().warnings().is_empty());
}

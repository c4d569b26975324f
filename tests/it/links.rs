//! `/handoff link` (`docs/behaviour.md#handoff-link-one-operator-on-slack-and-discord`):
//! a code issued on one platform links the caller's account on another to the code's
//! operator. Slack's side goes through its front door; the other platform's side (a code
//! issued on Discord) is played by calling the service on the same database, as the
//! Discord adapter would. Checked: the link itself (one operator, both accounts), that a
//! code works once, on the other platform only, and for ten minutes; that someone with
//! open conversations must hand them over first; that an operator keeps one account per
//! platform; and what becomes of the operator an account leaves.

use crate::helpers::*;
use crate::on_both_databases;
use crate::slack_commands::say;
use crate::slack_helpers::*;
use handoff_bridge::engine::{OperatorId, Policy, Role};
use handoff_bridge::service::{DEFAULT_WORKSPACE, LinkedOperator, Service, ServiceOptions};
use handoff_bridge::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::sync::Arc;

const WS: handoff_bridge::engine::WorkspaceId = DEFAULT_WORKSPACE;

/// The service on the test's database, as another platform's adapter would use it.
async fn service(db: &Db) -> Service {
    let store = Store::connect(&db.url).await.expect("connect the service");
    let options = ServiceOptions {
        policy: Policy::default(),
        admin_token: None,
        widget: false,
        mirrors: Vec::new(),
        files: handoff_bridge::service::FileRules::off(),
    };
    Service::new(store, options, Arc::new(tokio::sync::Notify::new()))
}

/// A person seen on Discord for the first time, and a link code issued for them there.
async fn discord_code(service: &Service, account: &str, name: &str) -> (LinkedOperator, String) {
    let op = service
        .link_account(WS, "discord", account, name, Role::Agent, true)
        .await
        .expect("the Discord operator");
    let code = service.issue_link_code(WS, op.id, "discord").await.expect("a code");
    (op, code)
}

async fn slack_operator(s: &SlackApp, user: &str) -> i64 {
    sqlx::query_scalar("select operator_id from operator_identities where platform = 'slack' and external_id = $1")
        .bind(user)
        .fetch_one(&s.pool)
        .await
        .unwrap()
}

/// (platform, account) of an operator, by platform.
async fn accounts(s: &SlackApp, operator: i64) -> Vec<(String, String)> {
    sqlx::query_as("select platform, external_id from operator_identities where operator_id = $1 order by platform")
        .bind(operator)
        .fetch_all(&s.pool)
        .await
        .unwrap()
}

/// The code in the answer to `/handoff link`.
fn code_in(answer: &str) -> String {
    answer
        .split("`/handoff link ")
        .nth(1)
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_else(|| panic!("no code in: {answer}"))
        .to_owned()
}

fn assert_not_live(answer: &str) {
    assert!(
        answer.starts_with("⚠️ that is not a live link code"),
        "refused as no live code: {answer}"
    );
}

on_both_databases! {
    async fn a_code_is_issued_on_slack_and_refused_on_slack_and_unknown_codes_are_refused(db) {
        let s = SlackApp::spawn(&db).await;
        let ada = slack_operator(&s, ADA).await;

        let answer = say(&s, ADA, "link").await;
        assert!(answer.starts_with("Run `/handoff link "), "{answer}");
        assert!(answer.contains("on the other platform within 10 minutes") && answer.contains("*Ada*"), "{answer}");
        let code = code_in(&answer);
        assert_eq!(code.len(), 8, "{code}");
        assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()), "{code}");

        // Not on the platform it came from: neither by its issuer nor by anyone else there.
        for user in [ADA, BO] {
            let answer = say(&s, user, &format!("link {code}")).await;
            assert!(answer.starts_with("⚠️") && answer.contains("run it on the other platform"), "{answer}");
        }
        assert_eq!(accounts(&s, ada).await, [("slack".to_owned(), ADA.to_owned())]);
        assert_eq!(accounts(&s, slack_operator(&s, BO).await).await, [("slack".to_owned(), BO.to_owned())]);

        // Codes nobody issued, and words that cannot be codes.
        for typed in ["ZZZZ2345", "nonsense", "ABCDEFG0"] {
            assert_not_live(&say(&s, ADA, &format!("link {typed}")).await);
        }
        // Too many words: what is wrong, and the usage.
        let answer = say(&s, ADA, "link AB CD").await;
        assert!(answer.starts_with("⚠️") && answer.contains("`/handoff link <code>`"), "{answer}");
        assert!(answer.contains("`/handoff link` · `/handoff link <code>`"), "the usage lists link: {answer}");

        // A new code replaces the old one: one live code per operator.
        let again = code_in(&say(&s, ADA, "link").await);
        assert_ne!(again, code);
        let live = s.count(&format!("select count(*) from link_codes where operator_id = {ada} and used_at is null")).await;
        assert_eq!(live, 1);
        let old = s.count(&format!("select count(*) from link_codes where code = '{code}'")).await;
        assert_eq!(old, 0, "the replaced code is gone");
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn a_code_from_discord_links_the_slack_account_to_its_operator_once(db) {
        let s = SlackApp::spawn(&db).await;
        let service = service(&db).await;
        let ada = slack_operator(&s, ADA).await;
        // Ada's Slack operator is in a team and is the one eligible for `support`.
        assert_eq!(say(&s, MAX, "team create billing").await, "Team *billing* created.");
        assert_eq!(say(&s, MAX, "team add billing <@U0ADA>").await, "Team *billing*: Ada");
        say(&s, MAX, "routing support eligible <@U0ADA>").await;

        let (discord, code) = discord_code(&service, "D0ADA", "Ada L.").await;
        // Typed in lower case, as people do.
        let answer = say(&s, ADA, &format!("link {}", code.to_lowercase())).await;
        assert_eq!(answer, "Linked: this Slack account now belongs to *Ada L.*, the operator your code came from.");

        // One operator, both accounts.
        assert_eq!(
            accounts(&s, discord.id.0).await,
            [("discord".to_owned(), "D0ADA".to_owned()), ("slack".to_owned(), ADA.to_owned())]
        );
        let (st, o) = s.get(&format!("/v1/operators/{}", discord.id.0), ADMIN_TOKEN).await;
        assert_eq!(st, StatusCode::OK, "{o}");
        assert_eq!((o["slack_user_id"].as_str(), o["discord_user_id"].as_str()), (Some(ADA), Some("D0ADA")));
        // Her Slack operator had no history: it is gone, and its team place and
        // eligibility went to the operator she is now.
        assert_eq!(s.count(&format!("select count(*) from operators where id = {ada}")).await, 0);
        let (_, teams) = s.get("/v1/teams", ADMIN_TOKEN).await;
        assert_eq!(teams[0]["members"], json!([{"id": discord.id.0, "name": "Ada L."}]));
        let (_, w) = s.get("/v1/widgets/support", ADMIN_TOKEN).await;
        assert_eq!(w["eligible"], json!([{"id": discord.id.0, "name": "Ada L."}]));
        // The code is used, and records what it linked.
        let used: (Option<i64>, Option<String>, Option<String>, Option<i64>) = sqlx::query_as(
            "select used_at, used_platform, used_account, replaced_operator_id from link_codes where code = $1")
            .bind(&code).fetch_one(&s.pool).await.unwrap();
        assert!(used.0.is_some());
        assert_eq!((used.1.as_deref(), used.2.as_deref(), used.3), (Some("slack"), Some(ADA), Some(ada)));

        // From Slack she now acts as that operator.
        s.handoff("c1").await;
        assert_eq!(say(&s, ADA, "claim c1").await, "`c1` is yours.");
        s.expect(&["chat.update"]).await;
        assert_eq!(s.conversation("c1").await["assignee"]["id"], discord.id.0);

        // The code works once.
        assert_not_live(&say(&s, BO, &format!("link {code}")).await);
        let again = service.redeem_link_code(WS, "slack", BO, &code).await;
        assert!(again.is_err(), "{again:?}");
        assert_eq!(accounts(&s, slack_operator(&s, BO).await).await.len(), 1);
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn an_expired_code_is_refused_and_cleaned_away(db) {
        let s = SlackApp::spawn(&db).await;
        let service = service(&db).await;
        let bo = slack_operator(&s, BO).await;
        let (_, code) = discord_code(&service, "D0BO", "Bo D.").await;
        // Ten minutes pass.
        sqlx::query("update link_codes set expires_at = $1 where code = $2")
            .bind(handoff_bridge::store::now_ms() - 1)
            .bind(&code)
            .execute(&s.pool)
            .await
            .unwrap();
        assert_not_live(&say(&s, BO, &format!("link {code}")).await);
        assert_eq!(accounts(&s, bo).await, [("slack".to_owned(), BO.to_owned())]);
        // The next code issued anywhere clears it out.
        discord_code(&service, "D0CY", "Cy").await;
        assert_eq!(s.count(&format!("select count(*) from link_codes where code = '{code}'")).await, 0);
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn open_conversations_are_handed_over_first_and_an_operator_with_history_is_kept_out_of_routing(db) {
        let s = SlackApp::spawn(&db).await;
        let service = service(&db).await;
        let bo = slack_operator(&s, BO).await;
        s.handoff("c1").await;
        assert_eq!(say(&s, BO, "claim c1").await, "`c1` is yours.");
        s.expect(&["chat.update"]).await;

        let (discord, code) = discord_code(&service, "D0BO", "Bo D.").await;
        let answer = say(&s, BO, &format!("link {code}")).await;
        assert!(answer.starts_with("⚠️ you still have 1 open conversation(s)") && answer.contains("hand them over"), "{answer}");
        assert_eq!(accounts(&s, bo).await, [("slack".to_owned(), BO.to_owned())]);
        let unused = s.count(&format!("select count(*) from link_codes where code = '{code}' and used_at is null")).await;
        assert_eq!(unused, 1, "a refused code stays live");

        let (st, r) = s.post("/v1/conversations/c1/resolve", ADMIN_TOKEN, json!({})).await;
        assert_eq!(st, StatusCode::OK, "{r}");
        s.expect(&["chat.update"]).await;
        assert_eq!(
            say(&s, BO, &format!("link {code}")).await,
            "Linked: this Slack account now belongs to *Bo D.*, the operator your code came from."
        );
        assert_eq!(accounts(&s, discord.id.0).await.len(), 2);
        // His Slack operator keeps its history (c1 is still theirs), out of routing: away,
        // capacity 0, no accounts.
        let (st, old) = s.get(&format!("/v1/operators/{bo}"), ADMIN_TOKEN).await;
        assert_eq!(st, StatusCode::OK, "{old}");
        assert_eq!((old["presence"].as_str(), old["capacity"].as_i64()), (Some("away"), Some(0)));
        assert_eq!((old["slack_user_id"].as_str(), old["discord_user_id"].as_str()), (None, None));
        assert_eq!(s.conversation("c1").await["assignee"]["id"], bo);
        s.expect(&[]).await;
        s.finish().await;
    }

    async fn an_operator_keeps_one_account_per_platform(db) {
        let s = SlackApp::spawn(&db).await;
        let service = service(&db).await;
        let max = slack_operator(&s, MAX).await;
        let ada = slack_operator(&s, ADA).await;
        // Max has a Discord account too; a code he issues there cannot take Ada's Slack account.
        let (st, o) = s.call(Method::PATCH, &format!("/v1/operators/{max}"), ADMIN_TOKEN, Some(json!({"discord_user_id": "D0MAX"}))).await;
        assert_eq!(st, StatusCode::OK, "{o}");
        let code = service.issue_link_code(WS, OperatorId(max), "discord").await.unwrap();
        let answer = say(&s, ADA, &format!("link {code}")).await;
        assert!(answer.starts_with("⚠️") && answer.contains("already has another slack account"), "{answer}");
        assert_eq!(accounts(&s, ada).await, [("slack".to_owned(), ADA.to_owned())]);
        assert_eq!(accounts(&s, max).await.len(), 2);

        // His own Slack account, linked already, is a no-op that uses the code up.
        assert!(say(&s, MAX, &format!("link {code}")).await.starts_with("Linked: "));
        assert_not_live(&say(&s, MAX, &format!("link {code}")).await);
        assert_eq!(accounts(&s, max).await.len(), 2);

        // A code is issued only for an operator's account on the platform it is issued on.
        let refused = service.issue_link_code(WS, OperatorId(ada), "discord").await;
        assert!(refused.is_err(), "{refused:?}");
        s.expect(&[]).await;
        s.finish().await;
    }
}

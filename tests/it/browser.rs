//! The sandbox page (`docs/sandbox.md`) in a real browser: headless Chromium, driven over
//! WebDriver by chromedriver, clicks through a whole conversation the way a newcomer
//! would. A visitor asks for a human, Ada accepts in the Slack view, replies, writes a
//! note, resolves in the Discord view through its form, and finds it in the inbox and
//! the audit trail. Each step checks what the page shows. The last screen is saved to
//! `target/test-artifacts/` (and the screen at a failure, beside it).
//!
//! Chromium and chromedriver are found when building (`build.rs`); without them these
//! tests show as ignored, with the reason.

use crate::helpers::Db;
use fantoccini::error::{CmdError, ErrorStatus};
use fantoccini::{Client, ClientBuilder, Locator};
use handoff_bridge::sandbox::{Sandbox, SandboxArgs};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Longer than the API tests' deadline: the page redraws once a second, and a browser
/// shares the machine with the rest of the suite.
const DEADLINE: Duration = Duration::from_secs(45);

const NO_BROWSER: &str = "Chromium and chromedriver were not found when building: install \
    Debian's chromium and chromium-driver (or set CHROME and CHROMEDRIVER), then touch build.rs";

mod a_visitor_and_ada_click_through_a_whole_conversation_in_chromium {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(not(test_browser), ignore = "the browser: see NO_BROWSER in tests/it/browser.rs")]
    async fn sqlite() {
        run(Db::sqlite(), "sqlite").await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    #[cfg_attr(
        not(all(test_browser, test_database_url)),
        ignore = "the browser and PostgreSQL: see NO_BROWSER in tests/it/browser.rs, and set TEST_DATABASE_URL"
    )]
    async fn postgres() {
        run(Db::postgres().await, "postgres").await
    }
}

/// Where screenshots go: `target/test-artifacts/`.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target/tmp has a parent")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("target/test-artifacts");
    dir
}

/// A chromedriver of the test's own, on a free port, and a session in it.
struct Browser {
    client: Client,
    _driver: tokio::process::Child,
    _profile: tempfile::TempDir,
    name: &'static str,
}

impl Browser {
    async fn open(name: &'static str) -> Browser {
        let (Some(chrome), Some(chromedriver)) = (
            option_env!("HANDOFF_TEST_CHROME"),
            option_env!("HANDOFF_TEST_CHROMEDRIVER"),
        ) else {
            panic!("{NO_BROWSER}");
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = tokio::process::Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{chromedriver} does not start: {e}"));
        let profile = tempfile::tempdir().unwrap();
        let mut caps = Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chrome,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1600,1100",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        // Chromedriver listens once it is up; then a session either starts or says why not.
        let started = Instant::now();
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed() < DEADLINE,
                "{chromedriver} does not listen on port {port}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap_or_else(|e| panic!("Chromium ({chrome}) does not start under {chromedriver}: {e}"));
        Browser {
            client,
            _driver: driver,
            _profile: profile,
            name,
        }
    }

    async fn screenshot(&self, what: &str) -> PathBuf {
        let path = artifacts().join(format!("sandbox-browser-{}-{what}.png", self.name));
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Runs `step` until it gives `Some`. The page redraws once a second, so an element
    /// found a moment ago may be gone: those errors (and "not there yet") are tried
    /// again; any other fails the test. At the deadline the screen is saved and the test
    /// fails with what the page showed.
    async fn until<T, F, Fut>(&self, what: &str, mut step: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, CmdError>>,
    {
        let started = Instant::now();
        loop {
            match step().await {
                Ok(Some(v)) => return v,
                Ok(None) => {}
                Err(CmdError::Standard(e))
                    if matches!(
                        e.error,
                        ErrorStatus::StaleElementReference
                            | ErrorStatus::NoSuchElement
                            | ErrorStatus::ElementNotInteractable
                            | ErrorStatus::ElementClickIntercepted
                    ) => {}
                Err(e) => panic!("{what}: {e}"),
            }
            if started.elapsed() > DEADLINE {
                let shot = self.screenshot("failed").await;
                let text = self.text("body").await.unwrap_or_default();
                panic!(
                    "timed out waiting for {what}; the screen is in {}; the page shows:\n{text}",
                    shot.display()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn text(&self, css: &str) -> Result<String, CmdError> {
        self.client.find(Locator::Css(css)).await?.text().await
    }

    /// The text of `css`, read again if a redraw replaced it meanwhile.
    async fn read(&self, css: &str) -> String {
        self.until(css, || async { self.text(css).await.map(Some) }).await
    }

    /// Once the text of `css` contains `needle`.
    async fn shows(&self, what: &str, css: &str, needle: &str) -> String {
        self.until(what, || async {
            let text = self.text(css).await?;
            Ok(text.contains(needle).then_some(text))
        })
        .await
    }

    /// Clicks the element `xpath` finds, once it is there.
    async fn click(&self, what: &str, xpath: &str) {
        self.until(what, || async {
            self.client.find(Locator::XPath(xpath)).await?.click().await?;
            Ok(Some(()))
        })
        .await
    }

    /// Types `text` into the input `css` finds and presses Enter.
    async fn type_and_enter(&self, what: &str, css: &str, text: &str) {
        self.until(what, || async {
            let input = self.client.find(Locator::Css(css)).await?;
            input.send_keys(&format!("{text}\u{E007}")).await?;
            Ok(Some(()))
        })
        .await
    }

    /// Picks the option of the select `xpath` finds whose text starts with `prefix`,
    /// until it shows as picked.
    async fn pick(&self, what: &str, xpath: &str, prefix: &str) {
        let option = format!("{xpath}/option[starts-with(normalize-space(.), '{prefix}')]");
        self.until(what, || async {
            self.client.find(Locator::XPath(&option)).await?.click().await?;
            let picked = self.client.find(Locator::XPath(&option)).await?.is_selected().await?;
            Ok(picked.then_some(()))
        })
        .await
    }

    async fn count(&self, xpath: &str) -> Result<usize, CmdError> {
        Ok(self.client.find_all(Locator::XPath(xpath)).await?.len())
    }
}

const SLACK_THREAD: &str = "//div[@id='slack-threads']/div[contains(@class,'thread')]";
const DISCORD_THREAD: &str = "//div[@id='discord-threads']/div[contains(@class,'thread')]";

async fn run(db: Db, name: &'static str) {
    let env: HashMap<&str, String> = HashMap::from([
        ("DATABASE_URL", db.url.clone()),
        ("HANDOFF_LISTEN", "127.0.0.1:0".to_owned()),
    ]);
    let sandbox = Sandbox::start(None, &|k| env.get(k).cloned(), &SandboxArgs { reset: false })
        .await
        .expect("the sandbox starts");
    let browser = Browser::open(name).await;
    let b = &browser;
    b.client
        .goto(&format!("http://{}/sandbox", sandbox.local_addr()))
        .await
        .expect("the page loads");

    // The first screen: the cast to pick from, and empty channels that say what to do.
    b.shows(
        "the empty Slack channel",
        "#slack-threads",
        "ask for a human in a visitor panel",
    )
    .await;
    let cast = b.read("#me").await;
    for who in ["Ada", "Bo", "Max"] {
        assert!(cast.contains(who), "the operator picker lists {who}: {cast}");
    }
    b.pick("Ada picked", "//select[@id='me']", "Ada").await;

    // The visitor asks the manual widget for a human: a thread in Slack with Accept, and
    // one in Discord.
    b.type_and_enter(
        "the visitor asks for a human",
        "input[aria-label='Ask docs for a human']",
        "The install guide fails at step 3",
    )
    .await;
    let accept = format!("{SLACK_THREAD}//div[@class='buttons']/button[normalize-space()='Accept']");
    b.until("a Slack thread with Accept", || async {
        Ok((b.count(&accept).await? == 1).then_some(()))
    })
    .await;
    let thread = b
        .shows(
            "the visitor's words in the Slack thread",
            "#slack-threads .thread",
            "The install guide fails at step 3",
        )
        .await;
    assert!(thread.contains("Reject"), "the root offers Reject too: {thread}");
    b.shows(
        "the Discord thread",
        "#discord-threads .thread",
        "The install guide fails at step 3",
    )
    .await;

    // Ada accepts: the root names her and drops Accept, the visitor is told.
    b.click("Accept", &accept).await;
    b.until("the Slack root without Accept", || async {
        Ok((b.count(&accept).await? == 0).then_some(()))
    })
    .await;
    b.shows("the Slack root naming Ada", "#slack-threads .thread", "Ada")
        .await;
    b.shows("the visitor told Ada is on it", "#widgets .chat", "Ada is on it")
        .await;

    // A reply reaches the visitor's panel; a note stays in the thread.
    b.type_and_enter(
        "Ada's reply",
        "input[aria-label^='Slack reply in']",
        "Hi, Ada here: which version?",
    )
    .await;
    b.shows(
        "the reply in the visitor's panel",
        "#widgets .chat",
        "Hi, Ada here: which version?",
    )
    .await;
    b.type_and_enter(
        "Ada's note",
        "input[aria-label^='Slack reply in']",
        "// probably the old installer",
    )
    .await;
    b.shows(
        "the note in the Slack thread",
        "#slack-threads .thread",
        "// probably the old installer",
    )
    .await;
    let visitor = b.read("#widgets .chat").await;
    assert!(
        !visitor.contains("old installer"),
        "the visitor never sees a note: {visitor}"
    );
    assert!(visitor.contains("The install guide fails at step 3"), "{visitor}");

    // Resolve in the Discord view: Discord's form opens, Ada fills it in and submits.
    let resolve = format!("{DISCORD_THREAD}//div[@class='buttons']/button[normalize-space()='Resolve']");
    b.click("Resolve in Discord", &resolve).await;
    let form = "//div[@id='modals']/div[contains(@class,'modal') and contains(@class,'discord')]";
    b.until("the Resolve form, filled in", || async {
        let inputs = b.client.find_all(Locator::XPath(&format!("{form}//input"))).await?;
        if inputs.is_empty() {
            return Ok(None);
        }
        for input in &inputs {
            input.send_keys("new installer fixed it").await?;
        }
        Ok(Some(()))
    })
    .await;
    let title = b.read("#modals .modal h3").await;
    assert!(title.starts_with("Discord"), "{title}");
    b.click("Submit", &format!("{form}//button[normalize-space()='Submit']"))
        .await;

    // Resolved: no buttons left on either root, the form gone, the inbox and the audit
    // trail say so.
    b.until("both roots without buttons and no form", || async {
        let left = b
            .count(&format!("{SLACK_THREAD}//div[@class='buttons']/button"))
            .await?
            + b.count(&format!("{DISCORD_THREAD}//div[@class='buttons']/button"))
                .await?
            + b.count(form).await?;
        Ok((left == 0).then_some(()))
    })
    .await;
    b.click("the All tab", "//div[@class='tabs']/button[@data-filter='all']")
        .await;
    b.click(
        "the conversation in the inbox",
        "//ul[@id='conversations']/li[contains(., 'resolved, Ada')]",
    )
    .await;
    let trail = b.shows("the audit trail", "#audit", "active → resolved").await;
    assert!(trail.contains("bot → handed_off (handoff, by widget)"), "{trail}");
    assert!(trail.contains("handed_off → active (claim, by operator)"), "{trail}");
    b.shows("the live changes", "#live", "→ resolved, Ada (resolve by")
        .await;
    assert_eq!(b.read("#error").await, "", "the page shows no error");

    let shot = browser.screenshot("resolved").await;
    println!("the sandbox page, resolved: {}", shot.display());

    // A second visitor. Ada opens Transfer in Slack: Slack's modal, with an operator
    // select, a team select, "Back to the bot" and a note. Two destinations at once are
    // refused under the field, and the modal keeps what was picked; one goes through.
    b.type_and_enter(
        "a second visitor",
        "input[aria-label='Ask docs for a human']",
        "Can someone check my invoice?",
    )
    .await;
    let second = format!("{SLACK_THREAD}[contains(., 'Can someone check my invoice?')]");
    b.click(
        "Transfer on the second thread",
        &format!("{second}//div[@class='buttons']/button[normalize-space()='Transfer']"),
    )
    .await;
    let slack_form = "//div[@id='modals']/div[contains(@class,'modal') and contains(@class,'slack')]";
    b.pick(
        "Bo picked in the Transfer modal",
        &format!("{slack_form}//select[@name='operator']"),
        "Bo",
    )
    .await;
    let back_to_bot = format!("{slack_form}//input[@type='checkbox' and @value='bot']");
    b.click("Back to the bot, too", &back_to_bot).await;
    let transfer = format!("{slack_form}//button[normalize-space()='Transfer']");
    b.click("Transfer in the modal", &transfer).await;
    b.shows(
        "the modal's refusal",
        "#modals .modal.slack .field-error",
        "Pick exactly one destination",
    )
    .await;
    let picked: Value = b
        .client
        .execute(
            "const f = document.querySelector('#modals .modal.slack form');
             return [f.elements.operator.selectedOptions[0].text, f.querySelector('input[type=checkbox]').checked];",
            vec![],
        )
        .await
        .expect("the modal's fields");
    assert!(
        picked[0].as_str().is_some_and(|t| t.starts_with("Bo")) && picked[1] == true,
        "{picked}"
    );
    b.click("Back to the bot, off again", &back_to_bot).await;
    b.click("Transfer in the modal, again", &transfer).await;
    b.until("the Transfer modal closed", || async {
        Ok((b.count(slack_form).await? == 0).then_some(()))
    })
    .await;
    b.until("the second thread assigned to Bo", || async {
        let root = b.client.find(Locator::XPath(&second)).await?.text().await?;
        Ok(root.contains("Assigned to @Bo").then_some(()))
    })
    .await;
    let shot = browser.screenshot("transferred").await;
    println!("the sandbox page, transferred: {}", shot.display());
    browser.client.clone().close().await.expect("the session closes");
    sandbox.stop().await.unwrap();
}

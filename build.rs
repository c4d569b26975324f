//! Tells the test code what this machine can run, so that a test it cannot run shows as
//! ignored in cargo's summary rather than as passed:
//! - with `TEST_DATABASE_URL` set (and not empty) when building, `cfg(test_database_url)`
//!   is on and every test also runs on PostgreSQL;
//! - with Chromium and its WebDriver (`chromium` and `chromedriver`, or the paths in
//!   `CHROME` and `CHROMEDRIVER`) found when building, `cfg(test_browser)` is on and the
//!   browser test of the sandbox page runs (`docs/testing.md`). After installing them,
//!   `touch build.rs` (or change `PATH`) so this looks again.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_database_url)");
    println!("cargo::rustc-check-cfg=cfg(test_browser)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=test_database_url");
    }

    for var in ["PATH", "CHROME", "CHROMEDRIVER"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let chrome = found("CHROME", &["chromium", "chromium-browser", "google-chrome"]);
    let driver = found("CHROMEDRIVER", &["chromedriver"]);
    if let (Some(chrome), Some(driver)) = (chrome, driver) {
        println!("cargo::rustc-cfg=test_browser");
        println!("cargo::rustc-env=HANDOFF_TEST_CHROME={}", chrome.display());
        println!("cargo::rustc-env=HANDOFF_TEST_CHROMEDRIVER={}", driver.display());
    }
}

/// The program `var` names, or the first of `names` on `PATH`.
fn found(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    let dirs = std::env::var_os("PATH")?;
    std::env::split_paths(&dirs)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| is_program(p))
}

#[cfg(unix)]
fn is_program(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_program(path: &Path) -> bool {
    path.is_file()
}

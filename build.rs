//! Tells the test code whether PostgreSQL is expected: with `TEST_DATABASE_URL` set (and
//! not empty) when building, `cfg(test_database_url)` is on and every test also runs on
//! PostgreSQL; without it the PostgreSQL variants are marked ignored, so cargo's summary
//! counts them as ignored rather than passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(test_database_url)");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=TEST_DATABASE_URL");
    if std::env::var_os("TEST_DATABASE_URL").is_some_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=test_database_url");
    }
}

//! `handoff-bridge bench`, run as users run it, at a small scale: every scenario runs to
//! the end against the stand-ins, the statement counts are printed, and the claim races
//! come out with one winner each and every loser told.

use crate::on_both_databases;

on_both_databases! {
    async fn the_bench_runs_every_scenario_and_its_claim_races_have_one_winner_each(db) {
        let url = db.url.clone();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(env!("CARGO_BIN_EXE_handoff-bridge"))
                .env_clear()
                .args(["bench", "--handoffs", "20", "--concurrency", "4", "--rate", "100", "--click-rate", "100"])
                .args(["--races", "3", "--count", "3", "--idle-seconds", "0", "--statements", "--database-url", &url])
                .args(["--team-sizes", "5,50", "--open", "600", "--picks", "20", "--stored", "2000"])
                .output()
                .expect("the bench starts")
        })
        .await
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "the bench failed: {stderr}\n{stdout}");
        for shown in ["floor ", "statements per operation", "handoffs ", "accepts ", "replies ", "races ", "routing ", "peak RSS", "memory "] {
            assert!(stdout.contains(shown), "no `{shown}` in:\n{stdout}");
        }
        assert!(
            stdout.contains("3 conversations × 100 clicks at once: 3 with exactly one winner, 3 claims recorded, \
                             297 losers told who has it (of 297), 0 errors"),
            "{stdout}"
        );
        for size in ["     5 operators", "    50 operators"] {
            assert_eq!(stdout.lines().filter(|l| l.contains(size)).count(), 2, "a pick per mode at {size}:\n{stdout}");
        }
        // The service in a process of its own, on the database topped up to 2,000
        // conversations (the routing scenario stored 1,200 and the others some more).
        let memory = stdout.lines().find(|l| l.starts_with("memory ")).unwrap();
        assert!(memory.contains(" conversations stored, 20 handoffs end to end"), "{memory}");
        let stored: i64 = memory.split("own, ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(stored >= 2000, "{memory}");
        let peak: f64 = memory.split("peak RSS ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
        assert!(peak > 1.0, "the service's process was measured: {memory}");
        // The request of a handoff runs statements, and they are listed by their SQL.
        let request = stdout.lines().find(|l| l.contains("handoff: the request")).unwrap();
        let statements: f64 = request.split_whitespace().nth(3).unwrap().parse().unwrap();
        assert!(statements >= 5.0, "{request}");
        assert!(stdout.contains("insert into conversations"), "{stdout}");
    }
}

//! Hostile workflow files: bombs (YAML aliases, `!` and parentheses,
//! matrices, thousands of jobs or steps, a file over the size limit),
//! cycles, deep nesting and reusable workflows that call themselves. Each
//! fails its own run with a message that names the file and says what is
//! wrong; the server stays up, also at its next start, and nothing else is
//! touched.

mod common;

use std::time::{Duration, Instant};

use common::TestServer;
use common::ci::repo;

/// Bombs added here (the original cases follow in the test).
fn extra_cases() -> Vec<(&'static str, String, &'static str)> {
    vec![
        // A YAML alias bomb: nine levels of nine aliases (387 million nodes).
        (
            "aliases.yml",
            {
                let mut t = String::from("on: push\nx0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
                for i in 1..10 {
                    let p = i - 1;
                    t.push_str(&format!("x{i}: &x{i} [{}]\n", vec![format!("*x{p}"); 9].join(", ")));
                }
                t.push_str("jobs:\n  a:\n    steps: [{run: 'true'}]\n");
                t
            },
            "aliases.yml:",
        ),
        (
            "matrix.yml",
            format!(
                "on: push\njobs:\n  a:\n    strategy:\n      matrix:\n        x: [{}]\n        y: [{}]\n    steps: [{{run: 'true'}}]\n",
                (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(", "),
                (0..100).map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
            ),
            "more than 256 combinations",
        ),
        (
            "jobs.yml",
            format!(
                "on: push\njobs:\n{}",
                (0..10_000)
                    .map(|i| format!("  j{i}:\n    steps: [{{run: 'true'}}]\n"))
                    .collect::<String>()
            ),
            "at most 256 are allowed",
        ),
        (
            "steps.yml",
            format!(
                "on: push\njobs:\n  a:\n    steps:\n{}",
                "      - run: 'true'\n".repeat(1000)
            ),
            "steps",
        ),
        (
            "huge.yml",
            format!(
                "on: push\njobs:\n  a:\n    steps: [{{run: 'true'}}]\n# {}\n",
                "x".repeat(2 << 20)
            ),
            "KiB",
        ),
        (
            "parens.yml",
            format!(
                "on: push\njobs:\n  a:\n    if: ${{{{ {}true{} }}}}\n    steps: [{{run: 'true'}}]\n",
                "(".repeat(5000),
                ")".repeat(5000)
            ),
            "nest",
        ),
        (
            "self-call.yml",
            "on: [push, workflow_call]\njobs:\n  again:\n    uses: ./.hearth/workflows/self-call.yml\n".into(),
            "deep",
        ),
    ]
}

#[test]
fn workflow_errors_fail_the_run_with_the_reason() {
    let r = repo();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown-key.yml",
            "on: push\njobs:\n  a:\n    stepz: []\n".into(),
            "has no key `stepz`",
        ),
        (
            "bad-uses.yml",
            "on: push\njobs:\n  a:\n    steps:\n      - uses: someone/action\n".into(),
            "needs a version",
        ),
        (
            "cycle.yml",
            "on: push\njobs:\n  a:\n    needs: b\n    steps: [{run: 'true'}]\n  b:\n    needs: a\n    steps: [{run: 'true'}]\n".into(),
            "form a cycle",
        ),
        (
            "missing.yml",
            "on: push\njobs:\n  a:\n    needs: nope\n    steps: [{run: 'true'}]\n".into(),
            "not a job of this workflow",
        ),
        ("yaml.yml", "on: push\njobs: [unclosed\n".into(), "yaml.yml:"),
        // Hostile input fails its run and nothing else (it used to overflow
        // the stack at every start-up and every minute, or take minutes).
        (
            "bang.yml",
            format!(
                "on: [push, schedule]\njobs:\n  a:\n    if: ${{{{ {}true }}}}\n    steps: [{{run: 'true'}}]\n",
                "!".repeat(900_000)
            ),
            "the expression is longer than 21000 characters",
        ),
        (
            "deep.yml",
            format!("on: push\njobs: {}\n", "{a: ".repeat(200_000)),
            "lists and maps nest more than 128 deep",
        ),
    ];
    let mut cases = cases;
    cases.splice(0..0, extra_cases());
    for (name, text, _) in &cases {
        let dir = r.work.join(".hearth/workflows");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), text).unwrap();
    }
    // A branch pattern that would backtrack for ever: it matches nothing, quickly.
    std::fs::write(
        r.work.join(".hearth/workflows/pattern.yml"),
        format!(
            "on:\n  push:\n    branches: ['{}']\njobs:\n  a:\n    steps: [{{run: 'true'}}]\n",
            "*a".repeat(100_000)
        ),
    )
    .unwrap();
    r.commit_and_push("Broken workflows", "main");
    let deadline = Instant::now() + Duration::from_secs(30);
    while r.runs().len() < cases.len() {
        assert!(Instant::now() < deadline, "{:?}", r.runs());
        std::thread::sleep(Duration::from_millis(100));
    }
    for run in r.runs() {
        assert_eq!(
            (run["status"].as_str(), run["conclusion"].as_str()),
            (Some("completed"), Some("failure"))
        );
        let path = run["path"].as_str().unwrap();
        let (_, _, expected) = cases.iter().find(|(n, _, _)| path.ends_with(n)).unwrap();
        let error = run["error"].as_str().unwrap();
        assert!(error.contains(expected) && error.contains(path), "{path}: {error}");
        let page = r
            .server
            .get(&format!("/alice/demo/runs/{}", run["run_number"]))
            .text()
            .unwrap();
        assert!(page.contains("flash error"));
    }
    assert_eq!(r.runs().len(), cases.len(), "the pattern matched nothing");
    // The workflows are still there at the next start: it starts.
    let mut r = r;
    assert!(r.server.stop());
    let again = TestServer::start_in(&r.server.data, &[], &[]);
    assert_eq!(again.get("/healthz").status(), 200);
}

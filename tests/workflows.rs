//! Golden tests of the workflow parser through `hearth ci lint`: each
//! `tests/workflows/NAME.yml` must print exactly `NAME.out` (the job graph,
//! or the errors with file and line, then the exit code).

mod common;

use std::process::Command;

#[test]
fn lint_matches_the_golden_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workflows");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yml") {
            continue;
        }
        let name = path.file_name().unwrap().to_str().unwrap();
        let expected = std::fs::read_to_string(path.with_extension("out")).unwrap();
        let out = Command::new(common::BIN)
            .args(["ci", "lint", name])
            .current_dir(&dir)
            .output()
            .unwrap();
        let actual = format!(
            "{}{}exit {}\n",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            out.status.code().unwrap_or(-1)
        );
        assert_eq!(actual, expected, "{name}");
        checked += 1;
    }
    assert!(checked >= 8, "golden files found: {checked}");
}

#[test]
fn lint_without_files_reads_the_checkout() {
    let dir = tempfile::TempDir::new().unwrap();
    let out = Command::new(common::BIN)
        .args(["ci", "lint"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no workflow files here"));
    std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
    std::fs::write(
        dir.path().join(".github/workflows/ci.yml"),
        "on: push\njobs:\n  a:\n    steps: [{run: 'true'}]\n",
    )
    .unwrap();
    let out = Command::new(common::BIN)
        .args(["ci", "lint"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(".github/workflows/ci.yml: workflow"));
}

#[test]
fn ci_run_runs_the_working_tree_here() {
    let git = common::Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    std::fs::create_dir_all(work.join(".hearth/workflows")).unwrap();
    std::fs::write(
        work.join(".hearth/workflows/ci.yml"),
        r#"name: CI
on: push
jobs:
  build:
    outputs:
      greeting: ${{ steps.hi.outputs.text }}
    steps:
      - id: hi
        run: |
          echo "text=hello from $GITHUB_REF_NAME" >> "$GITHUB_OUTPUT"
          echo "notes: $(cat notes.txt)"
          test -e new.txt
          test ! -e debug.log
  test:
    needs: build
    steps:
      - run: echo "got ${{ needs.build.outputs.greeting }}"
  broken:
    steps:
      - run: exit 4
      - if: failure()
        run: echo cleaning up
"#,
    )
    .unwrap();
    std::fs::write(work.join(".gitignore"), "*.log\n").unwrap();
    std::fs::write(work.join("notes.txt"), "committed\n").unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "first"]);
    // Uncommitted and new files are run; ignored ones are left out.
    std::fs::write(work.join("notes.txt"), "edited, not committed\n").unwrap();
    std::fs::write(work.join("new.txt"), "new\n").unwrap();
    std::fs::write(work.join("debug.log"), "noise\n").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(common::BIN)
            .args(["ci", "run"])
            .args(args)
            .current_dir(work.join(".hearth"))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run(&[]);
    assert_eq!(code, Some(1), "a job failed: {out}{err}");
    assert!(out.contains("[build] notes: edited, not committed"), "{out}");
    assert!(out.contains("[test] got hello from main"), "{out}");
    assert!(out.contains("[broken] Hearth: the step exited with code 4"), "{out}");
    assert!(out.contains("[broken] cleaning up"), "{out}");
    assert!(out.contains("Hearth: job build finished: success"), "{out}");
    assert!(err.contains("1 job failed"), "{err}");

    let (code, out, _) = run(&["--job", "test"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("[build]") && out.contains("[test] got hello"),
        "needs come along: {out}"
    );
    assert!(!out.contains("[broken]"));

    let (code, _, err) = run(&["--job", "nope"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("no job \"nope\"") && err.contains("build, test, broken"),
        "{err}"
    );
    // Nothing of the runs is left in the checkout.
    let status = git.ok(Some(&work), &["status", "--porcelain"]);
    assert_eq!(status, " M notes.txt\n?? new.txt\n");
}

#[test]
fn ci_run_sandboxed_on_request() {
    let git = common::Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    std::fs::create_dir_all(work.join(".hearth/workflows")).unwrap();
    // Where the checkout is, and a file beside it that only the machine sees.
    let beside = git.dir("beside.txt");
    std::fs::write(&beside, "the machine's own file\n").unwrap();
    std::fs::write(
        work.join(".hearth/workflows/ci.yml"),
        format!(
            "on: push\njobs:\n  look:\n    steps:\n      - run: |\n          test -f README.md && echo \"in $PWD as $HOME\"\n          if cat {} 2>/dev/null; then echo sees-beside; else echo beside-hidden; fi\n",
            beside.display()
        ),
    )
    .unwrap();
    std::fs::write(work.join("README.md"), "# x\n").unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "first"]);
    let run = |args: &[&str]| {
        let out = Command::new(common::BIN)
            .args(["ci", "run"])
            .args(args)
            .current_dir(&work)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let plain = run(&[]);
    assert!(
        plain.contains("the machine's own file") && plain.contains("sees-beside"),
        "{plain}"
    );
    let sealed = run(&["--sandbox"]);
    assert!(sealed.contains("beside-hidden"), "{sealed}");
    assert!(
        sealed.contains("in /home/runner/work/work/work as /home/runner"),
        "{sealed}"
    );
}

#[test]
fn ci_run_stops_on_ctrl_c() {
    use std::io::BufRead;
    let git = common::Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", "-b", "main", work.to_str().unwrap()]);
    std::fs::create_dir_all(work.join(".hearth/workflows")).unwrap();
    let marker = 800_000 + std::process::id() % 100_000;
    std::fs::write(
        work.join(".hearth/workflows/ci.yml"),
        format!(
            "on: push\njobs:\n  slow:\n    steps:\n      - run: echo started; sleep {marker}\n      - if: always()\n        run: echo cleaned up\n  next:\n    needs: slow\n    if: always()\n    steps:\n      - run: echo next job\n"
        ),
    )
    .unwrap();
    git.ok(Some(&work), &["add", "-A"]);
    git.ok(Some(&work), &["commit", "-q", "-m", "first"]);
    let mut child = Command::new(common::BIN)
        .args(["ci", "run"])
        .current_dir(&work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("started") {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "ended early: {seen}");
        seen.push_str(&line);
    }
    // SAFETY: kill(2) only sends SIGINT, as Ctrl-C does.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(1), "{seen}{rest}");
    assert!(rest.contains("[slow] cleaned up"), "the always() step ran: {rest}");
    assert!(!rest.contains("next job"), "no job starts after Ctrl-C: {rest}");
    assert_eq!(
        common::processes_matching(&format!("sleep {marker}")),
        0,
        "the step's sleep survived"
    );
}

//! After pushes pile up packs, the repository is repacked in the background
//! into one pack with a reachability bitmap, without blocking anything.

mod common;

use std::time::{Duration, Instant};

use common::{Git, TestServer};

fn packs(dir: &std::path::Path) -> (usize, usize) {
    let mut packs = 0;
    let mut bitmaps = 0;
    for entry in std::fs::read_dir(dir.join("objects/pack")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        packs += usize::from(name.ends_with(".pack"));
        bitmaps += usize::from(name.ends_with(".bitmap"));
    }
    (packs, bitmaps)
}

#[test]
fn many_pushes_end_up_in_one_pack_with_a_bitmap() {
    let server = TestServer::start();
    let token = server.user("alice", "pw-alice-1", true);
    server.create_repo(&token, "demo", false);
    let git = Git::new();
    let work = git.dir("work");
    git.ok(None, &["init", "-q", work.to_str().unwrap()]);
    let url = server.cred_url("alice", &token, "/alice/demo.git");
    // Each push carries more than receive.unpackLimit (100) objects, so git
    // keeps it as a pack of its own.
    for round in 0..5 {
        for i in 0..120 {
            std::fs::write(
                work.join(format!("r{round}-{i}.txt")),
                format!("round {round} file {i}\n"),
            )
            .unwrap();
        }
        git.ok(Some(&work), &["add", "."]);
        git.ok(Some(&work), &["commit", "-qm", &format!("Round {round}")]);
        git.ok(Some(&work), &["push", "-q", &url, "main"]);
    }
    let repo = server.repo_dir("alice", "demo");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (p, b) = packs(&repo);
        if p == 1 && b == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "still {p} packs and {b} bitmaps");
        std::thread::sleep(Duration::from_millis(200));
    }
    // A clone still works and gets everything.
    let clone = git.dir("clone");
    git.ok(
        None,
        &["clone", "-q", &server.url("/alice/demo.git"), clone.to_str().unwrap()],
    );
    assert_eq!(git.ok(Some(&clone), &["rev-list", "--count", "HEAD"]).trim(), "5");
    git.ok(Some(&repo), &["fsck", "--strict", "--no-progress"]);

    // Small pushes are unpacked into loose objects; once they pile up they
    // are packed too.
    for round in 0..24 {
        for i in 0..25 {
            std::fs::write(
                work.join(format!("small{round}-{i}.txt")),
                format!("small {round} {i}\n"),
            )
            .unwrap();
        }
        git.ok(Some(&work), &["add", "."]);
        git.ok(Some(&work), &["commit", "-qm", &format!("Small {round}")]);
        git.ok(Some(&work), &["push", "-q", &url, "main"]);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while loose_objects(&repo) > 256 {
        assert!(Instant::now() < deadline, "{} loose objects left", loose_objects(&repo));
        std::thread::sleep(Duration::from_millis(200));
    }
    git.ok(Some(&repo), &["fsck", "--strict", "--no-progress"]);
}

fn loose_objects(repo: &std::path::Path) -> usize {
    std::fs::read_dir(repo.join("objects"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().len() == 2)
        .map(|e| std::fs::read_dir(e.path()).unwrap().count())
        .sum()
}

//! What HTTP answers tell a browser: pages forbid inline scripts and
//! framing by other sites and keep their address from other sites; files
//! and JSON run nothing; cookies are `Secure` when the site is https.

mod common;

use common::TestServer;
use common::ci::repo;

#[test]
fn pages_forbid_inline_scripts_and_framing_and_files_run_nothing() {
    let r = repo();
    r.commit_and_push("First", "main");
    let page = r.server.get("/alice/demo");
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    assert_eq!(page.headers()["referrer-policy"], "strict-origin-when-cross-origin");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    // A file someone pushed, even HTML, is shown as a file that runs nothing.
    std::fs::write(r.work.join("evil.html"), "<script>alert(document.cookie)</script>").unwrap();
    r.commit_and_push("Evil", "main");
    let raw = r.server.get("/alice/demo/raw/main/evil.html");
    assert_eq!(raw.status(), 200);
    let csp = raw.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("sandbox") && csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(raw.headers()["x-content-type-options"], "nosniff");
    assert!(!raw.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let api = r.server.get("/api/v1/repos/alice/demo");
    assert!(
        api.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    // Over plain http (no https base URL), cookies cannot be Secure.
    let login = r.server.get("/login");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!cookie.contains("Secure"), "{cookie}");
}

#[test]
fn with_an_https_address_cookies_are_secure() {
    let server = TestServer::start_with(&["--base-url", "https://hearth.example"]);
    server.user("alice", "pw-alice-1", true);
    let login = server.get("/login");
    let csrf = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(csrf.contains("Secure") && csrf.contains("HttpOnly"), "{csrf}");
    let page = login.text().unwrap();
    let resp = common::client()
        .post(server.url("/login"))
        .header("Cookie", csrf.split(';').next().unwrap())
        .form(&[
            ("csrf", common::csrf_of(&page).as_str()),
            ("name", "alice"),
            ("password", "pw-alice-1"),
        ])
        .send()
        .unwrap();
    assert_eq!(resp.status(), 303);
    let session: Vec<String> = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        session
            .iter()
            .any(|c| c.starts_with("hearth_session=") && c.contains("Secure")),
        "{session:?}"
    );
}

#[test]
fn listening_beyond_loopback_without_a_base_url_is_warned_of() {
    use std::io::BufRead;
    let dir = tempfile::TempDir::new().unwrap();
    let mut child = std::process::Command::new(common::BIN)
        .args(["serve", "--listen", "0.0.0.0:0", "--data"])
        .arg(dir.path().join("data"))
        .env("HEARTH_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut said = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.contains("listening on http://");
        said.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        said.iter()
            .any(|l| l.contains("WARN") && l.contains("without --base-url")),
        "{said:#?}"
    );
}

#[test]
fn anonymous_readers_get_no_cookie_and_one_etag_so_caches_can_answer_304() {
    let r = repo();
    let sha = r.commit_and_push("First", "main");
    let path = format!("/alice/demo/tree/{sha}");
    let first = r.server.get(&path);
    assert_eq!(first.status(), 200);
    assert!(
        first.headers().get("set-cookie").is_none(),
        "a page without a form mints no cookie"
    );
    let tag = first.headers()["etag"].to_str().unwrap().to_string();
    let again = r.server.get(&path);
    assert_eq!(
        again.headers()["etag"].to_str().unwrap(),
        tag,
        "the same page, the same tag"
    );
    let cached = common::client()
        .get(r.server.url(&path))
        .header("If-None-Match", &tag)
        .send()
        .unwrap();
    assert_eq!(cached.status(), 304);
    // A page with a form does set it, and the form carries it.
    let login = r.server.get("/login");
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    let page = login.text().unwrap();
    assert!(cookie.contains(&common::csrf_of(&page)), "{cookie}");
}

#[test]
fn a_live_log_stops_for_a_collaborator_removed_while_watching() {
    use std::io::Read;
    use std::time::{Duration, Instant};
    let mut r = repo();
    r.server.create_repo(&r.token, "secret", true);
    r.slug = "alice/secret".into();
    let bob = r.server.user("bob", "pw-bob-1234", false);
    let (status, _) = r.server.api(
        "PUT",
        "/api/v1/repos/alice/secret/collaborators/bob",
        Some(&r.token),
        Some(serde_json::json!({"permission": "read"})),
    );
    assert_eq!(status, 204);
    r.push_workflow(
        "long.yml",
        "on: push\njobs:\n  long:\n    steps:\n      - run: for i in $(seq 1 60); do echo tick $i; sleep 1; done\n",
        "main",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let job = loop {
        let runs = r.runs();
        if let Some(run) = runs.first()
            && let Some(j) = r.jobs(run).into_iter().find(|j| j["status"] == "in_progress")
        {
            break j;
        }
        assert!(Instant::now() < deadline, "the job never started");
        std::thread::sleep(Duration::from_millis(200));
    };
    let mut stream = common::client()
        .get(r.server.url(&format!("/alice/secret/runs/1/jobs/{}/stream", job["id"])))
        .header("Authorization", format!("token {bob}"))
        .send()
        .unwrap();
    assert_eq!(stream.status(), 200);
    let mut buf = [0u8; 4096];
    let n = stream.read(&mut buf).unwrap();
    assert!(n > 0, "bob sees the log while he may");
    let (status, _) = r.server.api(
        "DELETE",
        "/api/v1/repos/alice/secret/collaborators/bob",
        Some(&r.token),
        None,
    );
    assert_eq!(status, 204);
    let removed = Instant::now();
    loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(removed.elapsed() < Duration::from_secs(15), "still streaming to bob"),
        }
    }
    assert!(removed.elapsed() < Duration::from_secs(15), "the stream ended for bob");
    let (status, job_now) = r.server.api(
        "GET",
        &format!("/api/v1/repos/alice/secret/actions/jobs/{}", job["id"]),
        Some(&r.token),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(
        job_now["status"], "in_progress",
        "it ended for bob, not because the job did"
    );
}

/// The server's peak resident memory in KiB since `reset_peak`.
fn peak_kib(server: &TestServer) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn reset_peak(server: &TestServer) {
    std::fs::write(format!("/proc/{}/clear_refs", server.pid()), "5").unwrap();
}

#[test]
fn a_large_file_streams_and_patches_are_cut_with_a_note() {
    let r = repo();
    let big = common::noise(24 << 20, 7);
    std::fs::write(r.work.join("big.bin"), &big).unwrap();
    // Four files of 90,000 lines: more than a download's 300,000 lines.
    for n in 0..4 {
        let text: String = (0..90_000).map(|i| format!("line {i} of {n}\n")).collect();
        std::fs::write(r.work.join(format!("f{n}.txt")), text).unwrap();
    }
    let sha = r.commit_and_push("Big", "main");

    // The blob streams: its bytes and length are right, and the server's
    // memory does not grow by the blob's size, even for three at once.
    reset_peak(&r.server);
    let before = peak_kib(&r.server);
    let url = r.server.url("/alice/demo/raw/main/big.bin");
    let downloads: Vec<_> = (0..3)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let resp = common::client().get(url).send().unwrap();
                let length = resp.headers()["content-length"].to_str().unwrap().to_string();
                let kind = resp.headers()["content-type"].to_str().unwrap().to_string();
                (resp.status().as_u16(), length, kind, resp.bytes().unwrap())
            })
        })
        .collect();
    for d in downloads {
        let (status, length, kind, body) = d.join().unwrap();
        assert_eq!(
            (status, length.as_str(), kind.as_str()),
            (200, "25165824", "application/octet-stream")
        );
        assert!(body[..] == big[..], "the streamed bytes are the blob");
    }
    let grown = peak_kib(&r.server).saturating_sub(before);
    assert!(
        grown < 12 << 10,
        "serving three 24 MiB files grew the server by {grown} KiB"
    );
    // A client that goes away mid-download leaves no git process behind.
    {
        let mut resp = common::client().get(&url).send().unwrap();
        let mut first = [0u8; 4096];
        std::io::Read::read_exact(&mut resp, &mut first).unwrap();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while common::children_of(r.server.pid())
        .iter()
        .any(|c| c.contains("cat-file"))
    {
        assert!(std::time::Instant::now() < deadline, "git cat-file outlived its client");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // A diff past the download's limits ends with a note that says so.
    for path in [
        format!("/alice/demo/commit/{sha}.diff"),
        format!("/alice/demo/commit/{sha}.patch"),
    ] {
        let resp = r.server.get(&path);
        assert_eq!(resp.status(), 200, "{path}");
        let text = resp.text().unwrap();
        assert!(
            text.trim_end().ends_with("(git diff, git format-patch)."),
            "{path}: {}",
            &text[text.len() - 300..]
        );
        assert!(text.contains("# Hearth: this diff is cut short"), "{path}");
        assert!(text.len() < 32 << 20);
        assert_eq!(r.server.get(&path).text().unwrap(), text, "the same again");
    }
    // Patches stream as they are made: three at once cost little memory,
    // and past four at once the next is told to come back.
    reset_peak(&r.server);
    let before = peak_kib(&r.server);
    let url = r.server.url(&format!("/alice/demo/commit/{sha}.patch"));
    // (Not read yet: each waits on its client, holding its place.)
    let slow: Vec<_> = (0..4).map(|_| common::client().get(&url).send().unwrap()).collect();
    let busy = common::client().get(&url).send().unwrap();
    assert_eq!(busy.status(), 503);
    assert!(busy.headers().contains_key("retry-after"));
    let whole: Vec<usize> = slow
        .into_iter()
        .map(|mut r| {
            let mut text = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut text).unwrap();
            text.len()
        })
        .collect();
    assert!(whole.iter().all(|n| *n > 4 << 20), "{whole:?}");
    let grown = peak_kib(&r.server).saturating_sub(before);
    eprintln!("four patches at once grew the server by {grown} KiB");
    assert!(grown < 96 << 10, "four patches at once grew the server by {grown} KiB");
}

#[test]
fn oversized_headers_are_refused() {
    let server = TestServer::start();
    let resp = common::client()
        .get(server.url("/healthz"))
        .header("X-Filler", "x".repeat(1 << 20))
        .send();
    match resp {
        Ok(r) => assert_eq!(r.status(), 431),
        Err(e) => assert!(
            e.is_request() || e.is_connect() || e.to_string().contains("connection"),
            "{e}"
        ),
    }
    assert_eq!(server.get("/healthz").status(), 200);
}

/// Slowloris: connections that send half their headers and then nothing
/// are closed after the header timeout (20 s) and meanwhile hold nobody
/// else up; a body cut short and a gzip bomb get a 4xx and cost no memory.
#[test]
fn slow_half_sent_and_bombed_requests_hold_nobody_up() {
    use std::io::{Read, Write};
    let (server, _git, _) = common::pushed_fixture(false);
    let addr = server
        .url("/")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let slow: Vec<std::net::TcpStream> = (0..50)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /alice/demo HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(
            server.get("/healthz").status(),
            200,
            "the server answers others meanwhile"
        );
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // A body that stops after 10 of its 1,000 bytes, then the client goes.
    {
        let mut s = std::net::TcpStream::connect(&addr).unwrap();
        s.write_all(b"POST /api/v1/user/repos HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"name\": \"").unwrap();
    }
    // A gzip bomb: 1 GiB of zeros in about 1 MiB, to the git negotiation (capped at 10 MiB).
    let bomb = {
        let mut gz = std::process::Command::new("sh")
            .args(["-c", "head -c 1073741824 /dev/zero | gzip -c"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = Vec::new();
        gz.stdout.take().unwrap().read_to_end(&mut out).unwrap();
        gz.wait().unwrap();
        out
    };
    assert!(bomb.len() < 2 << 20);
    let before = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let rss = |status: &str| -> u64 {
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    };
    let resp = common::client()
        .post(server.url("/alice/demo.git/git-upload-pack"))
        .header("Content-Type", "application/x-git-upload-pack-request")
        .header("Content-Encoding", "gzip")
        .body(bomb.clone())
        .send();
    if let Ok(resp) = resp {
        assert!((400..500).contains(&resp.status().as_u16()), "{}", resp.status());
    }
    let (status, body) = {
        let resp = common::client()
            .post(server.url("/api/v1/user/repos"))
            .header("Content-Type", "application/json")
            .header("Content-Encoding", "gzip")
            .body(bomb)
            .send();
        match resp {
            Ok(r) => (r.status().as_u16(), r.text().unwrap_or_default()),
            Err(e) => (413, e.to_string()),
        }
    };
    assert!((400..500).contains(&status), "a gzipped API body: {status} {body}");
    let after = std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap();
    let grown = rss(&after).saturating_sub(rss(&before));
    assert!(grown < 64 << 10, "the bombs grew the server by {grown} KiB");
    common::assert_no_git_children(server.pid());

    // Past the header timeout the half-sent requests are closed.
    std::thread::sleep(hearth::HEADER_TIMEOUT.saturating_sub(started.elapsed()) + std::time::Duration::from_secs(2));
    for mut s in slow {
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(n) => assert!(
                n == 0 || String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 408"),
                "{}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "still open"),
        }
    }
    let (status, _) = server.api("GET", "/api/v1/repos/alice/other", None, None);
    assert_eq!(status, 404, "the cut body made nothing");
}

/// One address cannot hold every connection (#28): beyond
/// `MAX_CONNECTIONS_PER_CLIENT` slow connections, its next ones are
/// answered 429 at once, and everyone else is served without delay.
#[test]
fn one_address_cannot_hold_every_connection() {
    use std::io::{Read, Write};
    let server = TestServer::start_with(&["--listen", "0.0.0.0:0"]);
    let outside = format!("{}:{}", common::outside_address(), common::port_of(&server));
    let slow: Vec<std::net::TcpStream> = (0..hearth::MAX_CONNECTIONS_PER_CLIENT)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(&outside).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
            s
        })
        .collect();
    // The next ones from that address are refused at once, saying so.
    for _ in 0..20 {
        let mut s = std::net::TcpStream::connect(&outside).unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 429"), "{answer:?}");
    }
    // Another client is served meanwhile, at once.
    let started = std::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(server.get("/healthz").status(), 200);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // Once its connections close, the address is served again.
    drop(slow);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let status = common::client()
            .get(format!("http://{outside}/healthz"))
            .send()
            .map(|r| r.status().as_u16());
        if status.as_ref().is_ok_and(|s| *s == 200) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{status:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

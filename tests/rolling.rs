//! Rolling deploys (`uses: hearth/deploy`) through real pushes: releases
//! unpacked side by side, the appspec.yml hooks in CodeDeploy's order, the
//! `current` link switched, a failed validation rolled back by itself, and
//! bad hooks refused before any target is touched.

mod common;

use std::path::{Path, PathBuf};

use common::ci::{Repo, repo_with};
use serde_json::Value;

/// The release's hooks: each writes what ran, where, into the target's
/// folder; ValidateService fails for a release whose version says "bad".
const APPSPEC: &str = "version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: hooks/event.sh
  BeforeInstall:
    - location: hooks/event.sh
  AfterInstall:
    - location: hooks/event.sh
  ApplicationStart:
    - location: hooks/event.sh
      timeout: 60
  ValidateService:
    - location: hooks/event.sh
    - location: hooks/validate.sh
";

const EVENT: &str = "echo \"$LIFECYCLE_EVENT $RELEASE $(cat version.txt)\" >> \"$DEPLOY_DIR/events.log\"
ls \"$DEPLOY_DIR/..\" > \"$DEPLOY_DIR/neighbours.txt\"
";

const VALIDATE: &str = "! grep -q bad version.txt\n";

fn workflow(extra: &str) -> String {
    format!(
        "on: push
jobs:
  build:
    steps:
      - run: ls /deploy-root 2>&1 || echo \"the deploy folder is not here\"
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: |
            appspec.yml
            hooks
            version.txt
  beta:
    needs: build
    environment: beta
    steps:
      - uses: hearth/deploy
        with:
          artifact: app
          max-unavailable: 1
          keep-releases: 2
          targets: |
            local:web1
            local:web2
            local:web3
{extra}"
    )
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

fn target(root: &Path, name: &str) -> PathBuf {
    root.join("alice/demo/beta").join(name)
}

fn current(root: &Path, name: &str) -> String {
    std::fs::read_link(target(root, name).join("current"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn events(root: &Path, name: &str) -> Vec<String> {
    std::fs::read_to_string(target(root, name).join("events.log"))
        .unwrap_or_default()
        .lines()
        .map(String::from)
        .collect()
}

fn deploy_log(r: &Repo, run: &Value) -> String {
    let jobs = r.jobs(run);
    r.log(r.job(&jobs, "beta"))
}

fn newest_deployment(r: &Repo) -> i64 {
    r.api("/deployments")[0]["id"].as_i64().unwrap()
}

fn statuses(r: &Repo) -> Vec<Value> {
    r.api(&format!("/deployments/{}/statuses", newest_deployment(r)))
        .as_array()
        .unwrap()
        .clone()
}

/// The deployment page's rows of targets: name, batch, state, release.
fn target_rows(r: &Repo) -> Vec<Vec<String>> {
    let page = r
        .server
        .get(&format!("/alice/demo/deployments/{}", newest_deployment(r)))
        .text()
        .unwrap();
    let html = scraper::Html::parse_document(&page);
    let rows = scraper::Selector::parse("table[aria-label=Targets] tbody tr").unwrap();
    let cells = scraper::Selector::parse("td").unwrap();
    html.select(&rows)
        .map(|row| {
            row.select(&cells)
                .take(4)
                .map(|c| c.text().collect::<String>().trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn a_rolling_deploy_goes_batch_by_batch_and_a_failed_validation_rolls_back() {
    // Under /tmp, as a newcomer's might be: the job's own /tmp does not hide it.
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("deploy-root");
    let r = repo_with(&["--deploy-dir", root.to_str().unwrap()]);
    write(
        &r.work,
        &[
            ("appspec.yml", APPSPEC),
            ("hooks/event.sh", EVENT),
            ("hooks/validate.sh", VALIDATE),
            ("version.txt", "v1\n"),
        ],
    );
    let first = r.push_workflow("deploy.yml", &workflow(""), "main");
    let run = r.wait_run(1);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "success", "{log}");
    let release1 = format!("1-{}", &first[..12]);
    for name in ["web1", "web2", "web3"] {
        assert_eq!(current(&root, name), format!("releases/{release1}"), "{name}: {log}");
        assert_eq!(
            std::fs::read_to_string(target(&root, name).join("current/version.txt")).unwrap(),
            "v1\n"
        );
        // A first release stops nothing; then CodeDeploy's order.
        assert_eq!(
            events(&root, name),
            ["BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService"]
                .map(|e| format!("{e} {release1} v1")),
            "{name}"
        );
        // A deploy step sees its own target's folder, none of the others.
        assert_eq!(
            std::fs::read_to_string(target(&root, name).join("neighbours.txt")).unwrap(),
            format!("{name}\n")
        );
    }
    assert!(
        log.contains("batch 1: local:web1") && log.contains("batch 3: local:web3"),
        "{log}"
    );
    // Other jobs do not see the deploy folder at all.
    let jobs = r.jobs(&run);
    let build = r.log(r.job(&jobs, "build"));
    assert!(build.contains("the deploy folder is not here"), "{build}");
    assert_eq!(
        target_rows(&r),
        (1..=3)
            .map(|n| vec![
                format!("local:web{n}"),
                n.to_string(),
                "success".into(),
                release1.clone()
            ])
            .collect::<Vec<_>>()
    );

    // A release that fails its validation: the first target goes back, the
    // others are never touched, and the deployment says rolled back.
    write(&r.work, &[("version.txt", "bad\n")]);
    let second = r.commit_and_push("A bad release", "main");
    let run = r.wait_run(2);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "failure", "{log}");
    let release2 = format!("2-{}", &second[..12]);
    for name in ["web1", "web2", "web3"] {
        assert_eq!(current(&root, name), format!("releases/{release1}"), "{name}: {log}");
    }
    let web1 = events(&root, "web1");
    assert_eq!(
        web1[4..],
        [
            format!("ApplicationStop {release1} v1"),
            format!("BeforeInstall {release2} bad"),
            format!("AfterInstall {release2} bad"),
            format!("ApplicationStart {release2} bad"),
            format!("ValidateService {release2} bad"),
            // The rollback: the bad release stops, the good one starts again.
            format!("ApplicationStop {release2} bad"),
            format!("ApplicationStart {release1} v1"),
            format!("ValidateService {release1} v1"),
        ],
        "{log}"
    );
    assert_eq!(events(&root, "web2").len(), 4, "web2 was not touched");
    assert!(
        log.contains("[local:web1] failed: ValidateService (hooks/validate.sh) failed"),
        "{log}"
    );
    assert!(log.contains("rolled back"), "{log}");
    let s = statuses(&r);
    assert_eq!(s[0]["state"], "failure", "{s:?}");
    assert!(
        s[0]["description"].as_str().unwrap().starts_with("rolled back"),
        "{s:?}"
    );
    let page = r.server.get("/alice/demo/environments").text().unwrap();
    assert!(page.contains("rolled back"), "{page}");
    let rows = target_rows(&r);
    assert_eq!(rows[0][..3], ["local:web1", "1", "rolled back"]);
    assert_eq!(rows[1][..3], ["local:web2", "2", "pending"]);
    // The release stays, immutable, beside the good one.
    assert!(target(&root, "web1").join("releases").join(&release2).is_dir());

    // A hook outside the release is refused before any target is touched.
    write(
        &r.work,
        &[
            ("version.txt", "v3\n"),
            (
                "appspec.yml",
                "hooks:\n  BeforeInstall:\n    - location: ../../../../../tmp/evil.sh\n",
            ),
        ],
    );
    r.commit_and_push("Escape", "main");
    let run = r.wait_run(3);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "failure");
    assert!(log.contains("is not a file of the release"), "{log}");
    // A hook that is not in the artifact, likewise.
    write(
        &r.work,
        &[(
            "appspec.yml",
            "hooks:\n  BeforeInstall:\n    - location: hooks/missing.sh\n",
        )],
    );
    r.commit_and_push("Missing", "main");
    let run = r.wait_run(4);
    let log = deploy_log(&r, &run);
    assert!(log.contains("hooks/missing.sh is not in the artifact"), "{log}");
    for name in ["web1", "web2", "web3"] {
        assert_eq!(current(&root, name), format!("releases/{release1}"));
        assert_eq!(events(&root, name).len(), if name == "web1" { 12 } else { 4 });
    }

    // A good release again; only the newest two releases stay.
    write(&r.work, &[("appspec.yml", APPSPEC), ("version.txt", "v5\n")]);
    let fifth = r.commit_and_push("Good again", "main");
    let run = r.wait_run(5);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "success", "{log}");
    let release5 = format!("5-{}", &fifth[..12]);
    let mut kept: Vec<String> = std::fs::read_dir(target(&root, "web1").join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    kept.sort();
    assert_eq!(kept, [release2, release5.clone()], "{log}");
    assert_eq!(current(&root, "web3"), format!("releases/{release5}"));
}

#[test]
fn an_unreachable_target_fails_its_batch_and_the_targets_before_it_roll_back() {
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("deploy-root");
    let r = repo_with(&["--deploy-dir", root.to_str().unwrap()]);
    write(
        &r.work,
        &[
            ("appspec.yml", APPSPEC),
            ("hooks/event.sh", EVENT),
            ("hooks/validate.sh", VALIDATE),
            ("version.txt", "v1\n"),
        ],
    );
    r.push_workflow("deploy.yml", &workflow(""), "main");
    assert_eq!(r.wait_run(1)["conclusion"], "success");
    // Nothing listens on port 1: the second batch cannot be reached.
    let text = workflow("").replace(
        "            local:web2\n            local:web3\n",
        "            ssh://deploy@127.0.0.1:1/srv/app\n",
    );
    let text = text.replace(
        "          keep-releases: 2\n",
        "          keep-releases: 2\n          ssh-key: not-a-key\n          known-hosts: \"[127.0.0.1]:1 ssh-ed25519 AAAA\"\n",
    );
    write(&r.work, &[("version.txt", "v2\n")]);
    r.push_workflow("deploy.yml", &text, "main");
    let run = r.wait_run(2);
    let log = deploy_log(&r, &run);
    assert_eq!(run["conclusion"], "failure", "{log}");
    assert!(
        log.contains("[ssh://deploy@127.0.0.1:1/srv/app] failed: the release could not be unpacked"),
        "{log}"
    );
    assert!(log.contains("[local:web1] rolled back: back on release 1-"), "{log}");
    assert!(current(&root, "web1").starts_with("releases/1-"), "{log}");
    let rows = target_rows(&r);
    assert_eq!(rows[0][2], "rolled back");
    assert_eq!(rows[1][2], "failure");
}

#[test]
fn bad_deploy_inputs_fail_the_step_with_the_reason() {
    let r = repo_with(&[]);
    write(
        &r.work,
        &[
            ("appspec.yml", "hooks: {}\n"),
            ("hooks/x.sh", ""),
            ("version.txt", "v1\n"),
        ],
    );
    let cases = [
        // No --deploy-dir: no local targets.
        ("", "this server has no --deploy-dir"),
        // ssh targets without a key, or without host keys.
        ("ssh://deploy@127.0.0.1:1/srv/app", "ssh targets need `ssh-key`"),
        ("ssh://deploy@host/../../etc", "an absolute path without '..'"),
    ];
    for (i, (targets, says)) in cases.iter().enumerate() {
        let text = workflow("").replace(
            "            local:web1\n            local:web2\n            local:web3\n",
            &format!(
                "            {}\n",
                if targets.is_empty() { "local:web1" } else { targets }
            ),
        );
        r.push_workflow("deploy.yml", &text, "main");
        let run = r.wait_run(i as i64 + 1);
        let log = deploy_log(&r, &run);
        assert_eq!(run["conclusion"], "failure", "{log}");
        assert!(log.contains(says), "{targets}: {log}");
    }
    // A deploy step outside an environment is refused when the file is read.
    std::fs::remove_file(r.work.join(".hearth/workflows/deploy.yml")).unwrap();
    r.push_workflow(
        "plain.yml",
        "on: push\njobs:\n  x:\n    steps:\n      - uses: hearth/deploy\n        with:\n          artifact: app\n          targets: local:a\n",
        "main",
    );
    let run = r.wait_run(4);
    assert_eq!(run["conclusion"], "failure");
    let error = run["error"].as_str().unwrap();
    assert!(
        error.contains("jobs.x: hearth/deploy deploys to an environment: give the job `environment:`"),
        "{run}"
    );
}

/// Processes a test started, killed when it ends, however it ends; and
/// the app instances the deploy hooks started (by their pid files).
struct Started {
    children: Vec<std::process::Child>,
    pid_files: Vec<PathBuf>,
}

impl Drop for Started {
    fn drop(&mut self) {
        for file in &self.pid_files {
            if let Ok(pid) = std::fs::read_to_string(file) {
                let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            }
        }
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_for_port(port: u16, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} did not start on port {port}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn program<'a>(path: &'a str, package: &str) -> &'a str {
    assert!(
        Path::new(path).exists(),
        "{path} is missing: this test needs Debian's {package} (apt install {package}; .ci/run does)"
    );
    path
}

/// The app: python3's http.server in the release it was started from,
/// stopped by its pid, validated by asking it for its own version.
const APP_APPSPEC: &str = "version: 0.0
os: linux
hooks:
  ApplicationStop:
    - location: hooks/stop.sh
  ApplicationStart:
    - location: hooks/start.sh
  ValidateService:
    - location: hooks/validate.sh
";
const APP_START: &str = "port=$(cat \"$DEPLOY_DIR/port\")
setsid nohup python3 -m http.server \"$port\" --bind 127.0.0.1 > \"$DEPLOY_DIR/app.log\" 2>&1 < /dev/null &
echo $! > \"$DEPLOY_DIR/app.pid\"
";
const APP_STOP: &str = "if [ -f \"$DEPLOY_DIR/app.pid\" ]; then
  kill \"$(cat \"$DEPLOY_DIR/app.pid\")\" 2>/dev/null || true
  rm -f \"$DEPLOY_DIR/app.pid\"
  port=$(cat \"$DEPLOY_DIR/port\")
  while curl -s -o /dev/null \"http://127.0.0.1:$port/\"; do sleep 0.1; done
fi
";
const APP_VALIDATE: &str = "port=$(cat \"$DEPLOY_DIR/port\")
for i in $(seq 50); do
  if served=$(curl -fsS \"http://127.0.0.1:$port/version.txt\"); then
    [ \"$served\" = \"$(cat version.txt)\" ] && ! grep -q broken version.txt
    exit
  fi
  sleep 0.1
done
exit 1
";

#[test]
fn three_instances_behind_nginx_are_updated_without_one_failed_request_and_a_bad_release_rolls_back() {
    let sshd = program("/usr/sbin/sshd", "openssh-server");
    let nginx = program("/usr/sbin/nginx", "nginx");
    let dir = tempfile::TempDir::new().unwrap();
    let t = dir.path();
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for key in ["host_key", "client_key"] {
        run(std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(t.join(key)));
    }
    std::fs::copy(t.join("client_key.pub"), t.join("authorized_keys")).unwrap();
    let user = run(std::process::Command::new("id").arg("-un")).trim().to_string();
    let mut started = Started {
        children: Vec::new(),
        pid_files: Vec::new(),
    };

    // The "machines": sshd on loopback, three app folders with their ports.
    let ssh_port = free_port();
    std::fs::write(
        t.join("sshd_config"),
        format!(
            "Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {0}/host_key\nAuthorizedKeysFile {0}/authorized_keys\n\
             PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n\
             StrictModes no\nUsePAM no\nPidFile {0}/sshd.pid\n",
            t.display()
        ),
    )
    .unwrap();
    let _ = std::fs::create_dir_all("/run/sshd");
    started.children.push(
        std::process::Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(t.join("sshd_config"))
            .stderr(std::fs::File::create(t.join("sshd.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for_port(ssh_port, "sshd");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut targets = String::new();
    for (i, port) in ports.iter().enumerate() {
        let app = t.join(format!("app{}", i + 1));
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("port"), port.to_string()).unwrap();
        started.pid_files.push(app.join("app.pid"));
        targets.push_str(&format!(
            "            ssh://{user}@127.0.0.1:{ssh_port}{} http://127.0.0.1:{port}/version.txt\n",
            app.display()
        ));
    }

    // The load balancer: nginx in front of the three, trying the next
    // instance when one does not answer.
    let lb_port = free_port();
    let upstreams: String = ports
        .iter()
        .map(|p| format!("    server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;\n"))
        .collect();
    std::fs::write(
        t.join("nginx.conf"),
        format!(
            "daemon off;\nmaster_process off;\npid {0}/nginx.pid;\nerror_log {0}/nginx-error.log;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {0}/body;\n  proxy_temp_path {0}/proxy;\n\
               fastcgi_temp_path {0}/fastcgi;\n  uwsgi_temp_path {0}/uwsgi;\n  scgi_temp_path {0}/scgi;\n\
               upstream app {{\n{upstreams}  }}\n\
               server {{\n    listen 127.0.0.1:{lb_port};\n    location / {{\n      proxy_pass http://app;\n\
                 proxy_next_upstream error timeout http_502 http_503 non_idempotent;\n      proxy_connect_timeout 1s;\n    }}\n  }}\n}}\n",
            t.display()
        ),
    )
    .unwrap();
    started.children.push(
        std::process::Command::new(nginx)
            .arg("-e")
            .arg(t.join("nginx-error.log"))
            .arg("-p")
            .arg(t)
            .arg("-c")
            .arg(t.join("nginx.conf"))
            .spawn()
            .unwrap(),
    );
    wait_for_port(lb_port, "nginx");

    // Hearth, with the deploy key as prod's secret and the host key as its variable.
    let r = repo_with(&[]);
    let call = |method: &str, path: &str, body: Value| {
        let (status, answer) = r.server.api(
            method,
            &format!("/api/v1/repos/alice/demo/environments/prod{path}"),
            Some(&r.token),
            Some(body),
        );
        assert!(status < 300, "{path}: {status} {answer}");
    };
    call("PUT", "", serde_json::json!({}));
    call(
        "PUT",
        "/secrets/DEPLOY_KEY",
        serde_json::json!({"value": std::fs::read_to_string(t.join("client_key")).unwrap()}),
    );
    let host_key = std::fs::read_to_string(t.join("host_key.pub")).unwrap();
    call(
        "POST",
        "/variables",
        serde_json::json!({"name": "KNOWN_HOSTS", "value": format!("[127.0.0.1]:{ssh_port} {}", host_key.trim())}),
    );
    let workflow = format!(
        "on: push
jobs:
  build:
    steps:
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: |
            appspec.yml
            hooks
            version.txt
  prod:
    needs: build
    environment: prod
    steps:
      - uses: hearth/deploy
        with:
          artifact: app
          max-unavailable: 1
          ssh-key: ${{{{ secrets.DEPLOY_KEY }}}}
          known-hosts: ${{{{ vars.KNOWN_HOSTS }}}}
          targets: |
{targets}"
    );
    write(
        &r.work,
        &[
            ("appspec.yml", APP_APPSPEC),
            ("hooks/start.sh", APP_START),
            ("hooks/stop.sh", APP_STOP),
            ("hooks/validate.sh", APP_VALIDATE),
            ("version.txt", "v1\n"),
        ],
    );
    r.push_workflow("deploy.yml", &workflow, "main");
    let first = r.wait_run(1);
    assert_eq!(
        first["conclusion"],
        "success",
        "{}",
        r.log(r.job(&r.jobs(&first), "prod"))
    );
    let direct = |port: u16| {
        common::client()
            .get(format!("http://127.0.0.1:{port}/version.txt"))
            .send()
            .and_then(|r| r.text())
            .unwrap_or_default()
    };
    for port in &ports {
        assert_eq!(direct(*port), "v1\n");
    }

    // A client polls the load balancer throughout.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let client = common::client();
            let (mut ok, mut failed, mut seen) = (0u32, Vec::new(), Vec::<String>::new());
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                match client.get(format!("http://127.0.0.1:{lb_port}/version.txt")).send() {
                    Ok(resp) if resp.status() == 200 => {
                        ok += 1;
                        let v = resp.text().unwrap_or_default();
                        if seen.last() != Some(&v) {
                            seen.push(v);
                        }
                    }
                    Ok(resp) => failed.push(format!("status {}", resp.status())),
                    Err(e) => failed.push(e.to_string()),
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            (ok, failed, seen)
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(300));

    // v2 rolls out one instance at a time.
    write(&r.work, &[("version.txt", "v2\n")]);
    r.commit_and_push("v2", "main");
    let second = r.wait_run(2);
    let log = r.log(r.job(&r.jobs(&second), "prod"));
    assert_eq!(second["conclusion"], "success", "{log}");
    for port in &ports {
        assert_eq!(direct(*port), "v2\n", "{log}");
    }
    // A release whose validation fails goes back by itself.
    write(&r.work, &[("version.txt", "v3 broken\n")]);
    r.commit_and_push("v3, broken", "main");
    let third = r.wait_run(3);
    let log = r.log(r.job(&r.jobs(&third), "prod"));
    assert_eq!(third["conclusion"], "failure", "{log}");
    assert!(log.contains("rolled back"), "{log}");
    std::thread::sleep(std::time::Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, failed, seen) = poller.join().unwrap();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed: {failed:?}\n{log}",
        failed.len(),
        ok as usize + failed.len()
    );
    assert!(ok > 50, "only {ok} requests");
    assert_eq!(seen.first().map(String::as_str), Some("v1\n"), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("v2\n"), "{seen:?}");
    for port in &ports {
        assert_eq!(direct(*port), "v2\n", "the old version serves: {log}");
    }
    let s = r.api(&format!("/deployments/{}/statuses", r.api("/deployments")[0]["id"]));
    assert!(s[0]["description"].as_str().unwrap().starts_with("rolled back"), "{s}");
}

/// The whole loop of the issue: build uploads the artifact, test hands over
/// its JUnit report, beta deploys the artifact to local targets, gamma
/// waits for its reviewer, who approves, and prod deploys; beta, gamma and
/// prod record the same digest, and the issue the commit fixes shows it all.
#[test]
fn build_test_beta_gamma_prod_promote_the_same_bytes_through_a_gate() {
    let dir = tempfile::TempDir::new().unwrap();
    let root = dir.path().join("deploy-root");
    let r = repo_with(&["--deploy-dir", root.to_str().unwrap()]);
    let me = r.server.api("GET", "/api/v1/user", Some(&r.token), None).1["id"].clone();
    let env = |name: &str, body: Value| {
        let (status, answer) = r.server.api(
            "PUT",
            &format!("/api/v1/repos/alice/demo/environments/{name}"),
            Some(&r.token),
            Some(body),
        );
        assert_eq!(status, 200, "{answer}");
    };
    env("gamma", serde_json::json!({"reviewers": [{"type": "User", "id": me}]}));
    let (status, _) = r.server.api(
        "POST",
        "/api/v1/repos/alice/demo/issues",
        Some(&r.token),
        Some(serde_json::json!({"title": "Ship the app"})),
    );
    assert_eq!(status, 201);
    write(
        &r.work,
        &[
            (
                "appspec.yml",
                "version: 0.0\nhooks:\n  ValidateService:\n    - location: hooks/validate.sh\n",
            ),
            ("hooks/validate.sh", VALIDATE),
            ("version.txt", "v1\n"),
        ],
    );
    let deploy = |name: &str, needs: &str| {
        format!(
            "  {name}:\n    needs: {needs}\n    environment: {name}\n    steps:\n      - uses: hearth/deploy\n        with:\n          artifact: app\n          targets: |\n            local:web1\n            local:web2\n"
        )
    };
    let workflow = format!(
        "on: push
jobs:
  build:
    steps:
      - uses: actions/upload-artifact@v4
        with:
          name: app
          path: |
            appspec.yml
            hooks
            version.txt
  test:
    needs: build
    steps:
      - run: echo '<testsuite name=\"app\"><testcase name=\"starts\"/><testcase name=\"serves\"/></testsuite>' > junit.xml
      - uses: hearth/test-report
        with:
          path: junit.xml
{}{}{}",
        deploy("beta", "test"),
        deploy("gamma", "beta"),
        deploy("prod", "gamma")
    );
    std::fs::create_dir_all(r.work.join(".hearth/workflows")).unwrap();
    std::fs::write(r.work.join(".hearth/workflows/deliver.yml"), workflow).unwrap();
    let sha = r.commit_and_push("Deliver the app, fixes #1", "main");

    // gamma waits for its reviewer; beta is deployed already.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let run = loop {
        let run = r.runs().into_iter().find(|x| x["run_number"] == 1);
        if let Some(run) = run
            && r.jobs(&run)
                .iter()
                .any(|j| j["key"] == "gamma" && j["status"] == "waiting")
        {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "gamma never waited");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(current_of(&root, "beta", "web2").starts_with("releases/1-"));
    assert_eq!(current_of(&root, "gamma", "web1"), "", "gamma waits: nothing there yet");
    let page = r.server.get("/alice/demo/issues/1").text().unwrap();
    assert!(page.contains("2 tests"), "{page}");
    assert!(
        page.contains("beta <span class=\"status success\">✓</span> · gamma <span class=\"status waiting\">waiting for approval</span>"),
        "{page}"
    );
    let pending = r.api(&format!("/actions/runs/{}/pending_deployments", run["id"]));
    let (status, body) = r.server.api(
        "POST",
        &format!("/api/v1/repos/alice/demo/actions/runs/{}/pending_deployments", run["id"]),
        Some(&r.token),
        Some(serde_json::json!({"environment_ids": [pending[0]["environment"]["id"]], "state": "approved", "comment": "ship"})),
    );
    assert_eq!(status, 200, "{body}");
    let run = r.wait_run(1);
    assert_eq!(run["conclusion"], "success", "{:?}", r.jobs(&run));
    for env in ["beta", "gamma", "prod"] {
        for web in ["web1", "web2"] {
            assert_eq!(
                current_of(&root, env, web),
                format!("releases/1-{}", &sha[..12]),
                "{env}/{web}"
            );
        }
    }
    // The same bytes everywhere, by digest.
    let list = r.api("/deployments");
    let digests: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["payload"]["artifacts"][0]["sha256"].as_str().unwrap())
        .collect();
    assert_eq!(digests.len(), 3);
    assert!(digests.iter().all(|d| *d == digests[0] && d.len() == 64), "{digests:?}");
    let page = r.server.get("/alice/demo/issues/1").text().unwrap();
    assert!(page.contains("prod <span class=\"status success\">✓</span>"), "{page}");
}

fn current_of(root: &Path, env: &str, name: &str) -> String {
    std::fs::read_link(root.join("alice/demo").join(env).join(name).join("current"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

//! The smart HTTP protocol, served by `git upload-pack` and
//! `git receive-pack --stateless-rpc`, spawned with argument arrays and a
//! cleared environment. Request bodies are streamed into the child and its
//! output streamed back; neither side is ever held whole in memory. A child
//! is killed and reaped when the client goes away.

use std::future::Future;
use std::io;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::mpsc;

use super::GitCommand;
use crate::error::{Error, Result};

/// Size of each chunk read from the child.
const CHUNK: usize = 64 * 1024;
/// How much of the child's stderr is kept for the log and error messages.
const STDERR_KEEP: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    UploadPack,
    ReceivePack,
}

impl Service {
    /// From `?service=git-upload-pack` or a request path's last segment.
    pub fn parse(name: &str) -> Option<Service> {
        match name {
            "git-upload-pack" => Some(Service::UploadPack),
            "git-receive-pack" => Some(Service::ReceivePack),
            _ => None,
        }
    }

    pub fn subcommand(self) -> &'static str {
        match self {
            Service::UploadPack => "upload-pack",
            Service::ReceivePack => "receive-pack",
        }
    }

    pub fn advertisement_content_type(self) -> &'static str {
        match self {
            Service::UploadPack => "application/x-git-upload-pack-advertisement",
            Service::ReceivePack => "application/x-git-receive-pack-advertisement",
        }
    }

    pub fn request_content_type(self) -> &'static str {
        match self {
            Service::UploadPack => "application/x-git-upload-pack-request",
            Service::ReceivePack => "application/x-git-receive-pack-request",
        }
    }

    pub fn result_content_type(self) -> &'static str {
        match self {
            Service::UploadPack => "application/x-git-upload-pack-result",
            Service::ReceivePack => "application/x-git-receive-pack-result",
        }
    }
}

/// The `Git-Protocol` header is passed to git only when it is a list of
/// `key` or `key=value` items separated by `:` made of safe characters,
/// as git itself sends it (`version=2`).
pub fn valid_protocol_header(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value.split(':').all(|item| {
            let (key, val) = item.split_once('=').unwrap_or((item, ""));
            !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && val.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
}

fn is_v2(protocol: Option<&str>) -> bool {
    protocol.is_some_and(|p| p.split(':').any(|item| item == "version=2"))
}

/// Paths of the smart HTTP protocol (errors there are answered in plain text).
pub fn is_git_path(path: &str) -> bool {
    path.ends_with("/info/refs") || path.ends_with("/git-upload-pack") || path.ends_with("/git-receive-pack")
}

/// A `pre-receive` hook for receive-pack: the folder it is in
/// (`core.hooksPath`) and what it is told through its environment.
#[derive(Debug, Clone)]
pub struct Hook {
    pub dir: std::path::PathBuf,
    pub env: Vec<(&'static str, String)>,
}

fn command(git: &GitCommand, service: Service, protocol: Option<&str>, hook: Option<&Hook>) -> tokio::process::Command {
    let mut cmd = git.tokio_command();
    if let Some(p) = protocol {
        cmd.env("GIT_PROTOCOL", p);
    }
    cmd.args([
        "-c",
        "receive.fsckObjects=true",
        "-c",
        "receive.autogc=false",
        "-c",
        "uploadpack.allowFilter=true",
        // Pull request refs are the server's: fetched, never pushed.
        "-c",
        "receive.hideRefs=refs/pull/",
    ]);
    if let Some(h) = hook {
        cmd.arg("-c").arg(format!("core.hooksPath={}", h.dir.display()));
        for (k, v) in &h.env {
            cmd.env(k, v);
        }
    }
    cmd.args([service.subcommand(), "--stateless-rpc"]);
    cmd
}

/// Appends one pkt-line holding `data`.
fn pkt_line(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("{:04x}", data.len() + 4).as_bytes());
    out.extend_from_slice(data);
}

/// The body of `GET info/refs?service=...`: the ref advertisement (or, for
/// protocol v2, the capability list).
pub async fn advertise(git: &GitCommand, service: Service, repo: &Path, protocol: Option<&str>) -> Result<Vec<u8>> {
    let out = command(git, service, protocol, None)
        .arg("--advertise-refs")
        .arg(repo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .await?;
    if !out.status.success() {
        return Err(Error::internal(format!(
            "git {} --advertise-refs failed in {}: {}",
            service.subcommand(),
            repo.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let mut body = Vec::with_capacity(out.stdout.len() + 64);
    if !is_v2(protocol) {
        pkt_line(
            &mut body,
            format!("# service=git-{}\n", service.subcommand()).as_bytes(),
        );
        body.extend_from_slice(b"0000");
    }
    body.extend_from_slice(&out.stdout);
    Ok(body)
}

/// The child's answer: its first chunk of output, then the rest as it comes.
/// The channel closes once the child has been reaped and `finish` has run.
pub struct Rpc {
    pub first: Bytes,
    pub rest: mpsc::Receiver<io::Result<Bytes>>,
}

/// Runs one stateless RPC: streams `input` (at most `limit` bytes) into git
/// and its output back. `finish` runs exactly once after the child has
/// exited and been reaped, whatever happened, before the output ends; the
/// lines it returns reach the client as `remote:` messages when it asked
/// for a side band (they go in just before git's closing flush).
#[allow(clippy::too_many_arguments)]
pub async fn rpc<R, F, Fut>(
    git: &GitCommand,
    service: Service,
    repo: &Path,
    protocol: Option<&str>,
    hook: Option<&Hook>,
    input: R,
    limit: u64,
    finish: F,
) -> Result<Rpc>
where
    R: AsyncRead + Send + Unpin + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = Vec<String>> + Send + 'static,
{
    let mut child = match command(git, service, protocol, hook)
        .arg(repo)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) => {
            finish().await;
            return Err(e.into());
        }
    };
    let stdin = child.stdin.take().expect("stdin is piped");
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let stderr = tokio::spawn(keep_stderr(child.stderr.take().expect("stderr is piped")));
    let sideband = Arc::new(AtomicBool::new(false));
    let mut feeder = tokio::spawn(feed(input, stdin, limit, sideband.clone()));

    // Wait for the child's first output, unless the request body turns out
    // to be bad or too large first: then the child is stopped and the client
    // gets a 4xx instead.
    let mut buf = BytesMut::with_capacity(CHUNK);
    let mut fed = false;
    let first = loop {
        tokio::select! {
            biased;
            result = &mut feeder, if !fed => {
                fed = true;
                let failure = match result {
                    Ok(Ok(())) => continue,
                    Ok(Err(e)) => e,
                    Err(e) => Error::failed("the request body task", e),
                };
                stop(child, stderr, service, repo).await;
                finish().await;
                return Err(failure);
            }
            read = stdout.read_buf(&mut buf) => break read,
        }
    };
    match first {
        Ok(0) => {
            // No output at all: git refused the request before answering.
            feeder.abort();
            let status = child.wait().await;
            let err = stderr.await.unwrap_or_default();
            finish().await;
            return match status {
                Ok(s) if s.success() => Ok(Rpc {
                    first: Bytes::new(),
                    rest: mpsc::channel(1).1,
                }),
                _ => Err(Error::Invalid(format!(
                    "git could not read the request: {}",
                    first_line(&err)
                ))),
            };
        }
        Ok(_) => {}
        Err(e) => {
            feeder.abort();
            stop(child, stderr, service, repo).await;
            finish().await;
            return Err(e.into());
        }
    }

    let (tx, rx) = mpsc::channel(4);
    let repo = repo.to_path_buf();
    // The last four bytes are held back until the end: when they are git's
    // closing flush, `finish`'s messages go in before it.
    let mut first = buf;
    let mut tail = first.split_off(first.len().saturating_sub(4));
    tokio::spawn(async move {
        let mut client_gone = false;
        loop {
            let mut buf = BytesMut::with_capacity(CHUNK);
            match stdout.read_buf(&mut buf).await {
                Ok(0) => break,
                Ok(_) => {
                    tail.unsplit(buf);
                    let out = tail.split_to(tail.len().saturating_sub(4));
                    if tx.send(Ok(out.freeze())).await.is_err() {
                        client_gone = true;
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    break;
                }
            }
        }
        if client_gone {
            tracing::info!(
                "client went away; stopping git {} in {}",
                service.subcommand(),
                repo.display()
            );
            let _ = child.start_kill();
        }
        let status = child.wait().await;
        feeder.abort();
        let err = stderr.await.unwrap_or_default();
        match status {
            Ok(s) if s.success() || client_gone => {}
            Ok(s) => tracing::warn!(
                "git {} in {} exited with {s}: {}",
                service.subcommand(),
                repo.display(),
                err.trim()
            ),
            Err(e) => tracing::error!("waiting for git {}: {e}", service.subcommand()),
        }
        let messages = finish().await;
        let mut end = Vec::new();
        if sideband.load(Ordering::Relaxed) && &tail[..] == b"0000" {
            for m in messages {
                let line = format!("{m}\n");
                end.extend_from_slice(format!("{:04x}\x02", line.len() + 5).as_bytes());
                end.extend_from_slice(line.as_bytes());
            }
        }
        end.extend_from_slice(&tail);
        let _ = tx.send(Ok(Bytes::from(end))).await;
        drop(tx);
    });
    Ok(Rpc {
        first: first.freeze(),
        rest: rx,
    })
}

/// Kills and reaps a child that must not go on.
async fn stop(mut child: Child, stderr: tokio::task::JoinHandle<String>, service: Service, repo: &Path) {
    let _ = child.start_kill();
    let _ = child.wait().await;
    let err = stderr.await.unwrap_or_default();
    tracing::info!(
        "stopped git {} in {}: {}",
        service.subcommand(),
        repo.display(),
        first_line(&err)
    );
}

/// Copies the request body into the child, refusing to pass more than `limit`
/// bytes. Returning (for any reason) closes the child's stdin. Notes whether
/// the first command asks for a side band (`side-band-64k`).
async fn feed<R: AsyncRead + Unpin>(
    mut input: R,
    mut stdin: tokio::process::ChildStdin,
    limit: u64,
    sideband: Arc<AtomicBool>,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut total: u64 = 0;
    let mut head: Vec<u8> = Vec::new();
    loop {
        let n = input
            .read(&mut buf)
            .await
            .map_err(|e| Error::Invalid(format!("could not read the request body: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        if head.len() < 4096 {
            head.extend_from_slice(&buf[..n.min(4096 - head.len())]);
            if let Some(caps) = first_pkt_capabilities(&head) {
                sideband.store(caps.split(' ').any(|c| c.starts_with("side-band")), Ordering::Relaxed);
            }
        }
        total += n as u64;
        if total > limit {
            return Err(Error::TooLarge(format!(
                "the request is larger than this server accepts ({} bytes at most)",
                limit
            )));
        }
        if stdin.write_all(&buf[..n]).await.is_err() {
            // git stopped reading: it has answered (or failed) already.
            return Ok(());
        }
    }
}

/// Keeps the first few KiB of stderr and drains the rest, so a chatty child
/// never blocks on a full pipe.
async fn keep_stderr(mut stderr: tokio::process::ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = STDERR_KEEP.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The ref names a receive-pack request updates, read from its command
/// pkt-lines (up to the first flush, at most `max` bytes of them), and the
/// request again whole for git: the bytes read and the rest behind them.
pub async fn pushed_refs<R: AsyncRead + Unpin + Send + 'static>(
    mut input: R,
    max: usize,
) -> Result<(Vec<String>, Box<dyn AsyncRead + Send + Unpin>)> {
    let bad = |why: &str| Error::invalid(format!("not a git push: {why}"));
    let mut read = Vec::new();
    let mut names = Vec::new();
    loop {
        // Read by hand, not with read_exact: the bytes of a cut length go
        // on to git too (found by fuzz/fuzz_targets/pkt_lines.rs).
        let mut len = [0u8; 4];
        let mut got = 0;
        while got < 4 {
            match input.read(&mut len[got..]).await {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(_) => return Err(bad("the request could not be read")),
            }
        }
        read.extend_from_slice(&len[..got]);
        if got < 4 {
            break; // git answers a cut request itself
        }
        let len = std::str::from_utf8(&len)
            .ok()
            .and_then(|l| usize::from_str_radix(l, 16).ok())
            .ok_or_else(|| bad("a pkt-line length that is not hex"))?;
        if len == 0 {
            break;
        }
        if len < 4 || read.len() + len > max {
            return Err(bad("a pkt-line of a length git never sends"));
        }
        let start = read.len();
        read.resize(start + len - 4, 0);
        input
            .read_exact(&mut read[start..])
            .await
            .map_err(|_| bad("a cut pkt-line"))?;
        let line = &read[start..];
        let command = &line[..line.iter().position(|b| *b == 0).unwrap_or(line.len())];
        let command = String::from_utf8_lossy(command);
        // `shallow <id>` lines come first; a signed push has a certificate.
        if command.starts_with("shallow ") || command.starts_with("push-cert") {
            continue;
        }
        if let Some(name) = command.trim_end().splitn(3, ' ').nth(2) {
            names.push(name.to_string());
        }
    }
    Ok((names, Box::new(std::io::Cursor::new(read).chain(input))))
}

/// Why git's porcelain would refuse `name` although `check-ref-format`
/// lets it through: a part that starts with `-` reads as an option
/// (`git branch` refuses such names too).
pub fn refused_ref_name(name: &str) -> Option<String> {
    name.split('/')
        .any(|part| part.starts_with('-'))
        .then(|| format!("{name}: a part of a ref name may not start with '-' (git would read it as an option)"))
}

/// The capabilities after the NUL of the first pkt-line, once it is whole.
fn first_pkt_capabilities(data: &[u8]) -> Option<&str> {
    let len = usize::from_str_radix(std::str::from_utf8(data.get(..4)?).ok()?, 16).ok()?;
    let line = data.get(4..len)?;
    let nul = line.iter().position(|b| *b == 0)?;
    std::str::from_utf8(&line[nul + 1..]).ok().map(str::trim)
}

fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no reason given")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_header() {
        assert!(valid_protocol_header("version=2"));
        assert!(valid_protocol_header("version=1:object-format=sha1"));
        assert!(!valid_protocol_header(""));
        assert!(!valid_protocol_header("version=2\nX: y"));
        assert!(!valid_protocol_header("version=2 extra"));
        assert!(!valid_protocol_header(&"a".repeat(300)));
        assert!(is_v2(Some("version=2")));
        assert!(!is_v2(Some("version=1")));
    }

    #[tokio::test]
    async fn the_refs_of_a_push_are_read_and_the_request_kept_whole() {
        use tokio::io::AsyncReadExt;
        let zero = "0".repeat(40);
        let mut body = Vec::new();
        pkt_line(&mut body, format!("shallow {zero}").as_bytes());
        pkt_line(
            &mut body,
            format!("{zero} {zero} refs/heads/main\0report-status\n").as_bytes(),
        );
        pkt_line(&mut body, format!("{zero} {zero} refs/heads/-x\n").as_bytes());
        body.extend_from_slice(b"0000PACK...");
        let (names, mut rest) = pushed_refs(std::io::Cursor::new(body.clone()), 1 << 20).await.unwrap();
        assert_eq!(names, ["refs/heads/main", "refs/heads/-x"]);
        let mut again = Vec::new();
        rest.read_to_end(&mut again).await.unwrap();
        assert_eq!(again, body);
        assert!(refused_ref_name("refs/heads/-x").is_some());
        assert!(refused_ref_name("refs/heads/a-b").is_none());
        // A request cut in the middle of a length reaches git as it came.
        let cut = format!("0032{}bjk", "x".repeat(46)).into_bytes();
        let (_, mut rest) = pushed_refs(std::io::Cursor::new(cut.clone()), 1 << 20).await.unwrap();
        let mut again = Vec::new();
        rest.read_to_end(&mut again).await.unwrap();
        assert_eq!(again, cut);
        for bad in [&b"zzzz"[..], b"0002", b"ffff"] {
            assert!(
                pushed_refs(std::io::Cursor::new(bad.to_vec()), 100).await.is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn pkt_lines() {
        let mut out = Vec::new();
        pkt_line(&mut out, b"# service=git-upload-pack\n");
        assert_eq!(out, b"001e# service=git-upload-pack\n");
    }
}

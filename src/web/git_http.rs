//! Smart HTTP: `info/refs`, `git-upload-pack` and `git-receive-pack` under
//! `/{owner}/{repo}` (with or without `.git`). Reading needs read access,
//! pushing needs write access; the protocol itself is `git::protocol`.

use std::io;

use async_compression::tokio::bufread::GzipDecoder;
use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Deserialize;
use tokio::io::AsyncRead;
use tokio_util::io::StreamReader;

use super::AppState;
use super::access::{Read, RepoAccess, Write};
use super::repos::clone_url;
use crate::error::{Error, Result};
use crate::git::protocol::{self, Rpc, Service};
use crate::push;
use crate::repos::Access;

/// Cap on an upload-pack request (the fetch negotiation), as git http-backend.
const NEGOTIATION_LIMIT: u64 = 10 << 20;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/info/refs", get(info_refs))
        .route("/{owner}/{repo}/git-upload-pack", post(upload_pack))
        .route("/{owner}/{repo}/git-receive-pack", post(receive_pack))
}

#[derive(Deserialize)]
struct InfoRefsQuery {
    service: Option<String>,
}

async fn info_refs(
    State(state): State<AppState>,
    repo: RepoAccess<Read>,
    Query(query): Query<InfoRefsQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let Some(name) = query.service else {
        return Err(Error::invalid(
            "Hearth speaks the smart HTTP protocol only; use git 1.6.6 or newer",
        ));
    };
    let service = Service::parse(&name).ok_or_else(|| Error::invalid(format!("unknown git service {name:?}")))?;
    if service == Service::ReceivePack {
        repo.require(Access::Write)?;
    }
    let body = protocol::advertise(&state.git, service, &repo.path, git_protocol(&headers)).await?;
    Ok(git_response(service.advertisement_content_type(), Body::from(body)))
}

async fn upload_pack(
    State(state): State<AppState>,
    repo: RepoAccess<Read>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let input = request_body(&state, &headers, body, Service::UploadPack)?;
    let rpc = protocol::rpc(
        &state.git,
        Service::UploadPack,
        &repo.path,
        git_protocol(&headers),
        None,
        input,
        NEGOTIATION_LIMIT,
        || async { Vec::new() },
    )
    .await?;
    Ok(stream_response(&state, Service::UploadPack, rpc))
}

async fn receive_pack(
    State(state): State<AppState>,
    repo: RepoAccess<Write>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let limit = state.config.max_push_size;
    let too_large = || {
        Error::TooLarge(format!(
            "push refused: it is larger than this server accepts ({})",
            human(limit)
        ))
    };
    if content_length(&headers).is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let input = request_body(&state, &headers, body, Service::ReceivePack)?;
    let (names, input) = protocol::pushed_refs(input, 1 << 20).await?;
    if let Some(why) = names.iter().find_map(|n| protocol::refused_ref_name(n)) {
        return Err(Error::Invalid(why));
    }
    let pusher = repo.viewer.clone().expect("write access needs a signed-in user");
    // A job token's push starts no runs.
    let by_job = repo.token_scope.is_some();
    let repo_id = repo.repo.id;
    let repo_row = repo.repo.clone();

    // One push per repository at a time: each ref update is then attributed
    // to the push that made it. The pending row is how a crash is attributed.
    let lock = state.push_lock(repo_id).lock_owned().await;
    let hook = push::begin(&state.db, &state.config.data_dir, repo_id, pusher.id, by_job).await?;
    let crash = state.config.failpoint.as_deref() == Some("after-receive-pack");
    let base = clone_url(&state, &headers, &repo.repo)
        .trim_end_matches(".git")
        .to_string();
    let (st, path) = (state.clone(), repo.path.clone());
    let finish = move || async move {
        if crash {
            tracing::error!("failpoint after-receive-pack: aborting before the push is recorded");
            std::process::abort();
        }
        let landing = push::Landing {
            repo: &repo_row,
            path: &path,
            pusher: Some(&pusher),
            starts_ci: !by_job,
            base: &base,
            by_protocol: true,
        };
        let messages = push::landed(&st.push_server(), &landing).await;
        drop(lock);
        messages
    };
    let rpc = protocol::rpc(
        &state.git,
        Service::ReceivePack,
        &repo.path,
        git_protocol(&headers),
        hook.as_ref(),
        input,
        limit,
        finish,
    )
    .await
    .map_err(|e| match e {
        Error::TooLarge(_) => too_large(),
        other => other,
    })?;
    Ok(stream_response(&state, Service::ReceivePack, rpc))
}

/// The `Git-Protocol` header when it is well-formed; otherwise none.
fn git_protocol(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("git-protocol")
        .and_then(|v| v.to_str().ok())
        .filter(|v| protocol::valid_protocol_header(v))
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers.get(header::CONTENT_LENGTH)?.to_str().ok()?.parse().ok()
}

/// The request body as a byte stream (its bytes counted for `/metrics`),
/// gunzipped when the client compressed it.
fn request_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    service: Service,
) -> Result<Box<dyn AsyncRead + Send + Unpin>> {
    state.metrics.git_operation(service.subcommand());
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type != service.request_content_type() {
        return Err(Error::invalid(format!(
            "expected Content-Type {}",
            service.request_content_type()
        )));
    }
    let metrics = state.metrics.clone();
    let counted = body
        .into_data_stream()
        .inspect_ok(move |b| metrics.git_bytes(service.subcommand(), "in", b.len() as u64));
    let reader = StreamReader::new(counted.map_err(io::Error::other));
    match headers.get(header::CONTENT_ENCODING).map(|v| v.as_bytes()) {
        None => Ok(Box::new(reader)),
        Some(b"gzip" | b"x-gzip") => Ok(Box::new(GzipDecoder::new(reader))),
        Some(other) => Err(Error::invalid(format!(
            "unsupported Content-Encoding {:?}; send the body plain or gzipped",
            String::from_utf8_lossy(other)
        ))),
    }
}

fn stream_response(state: &AppState, service: Service, rpc: Rpc) -> Response {
    let rest = stream::unfold(rpc.rest, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let metrics = state.metrics.clone();
    let body = stream::once(async move { Ok::<_, io::Error>(rpc.first) })
        .chain(rest)
        .inspect_ok(move |b| metrics.git_bytes(service.subcommand(), "out", b.len() as u64));
    git_response(service.result_content_type(), Body::from_stream(body))
}

fn git_response(content_type: &'static str, body: Body) -> Response {
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, max-age=0, must-revalidate"),
    );
    response
}

/// 2147483648 → "2 GiB".
fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

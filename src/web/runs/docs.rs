//! `/{owner}/{repo}/docs/`: the documentation a run of the default branch
//! published (`uses: hearth/publish-docs`), served with the repository's
//! access rule. Its pages are the repository's authors' HTML: each is
//! served sandboxed (`Content-Security-Policy: sandbox`, an origin of its
//! own), so a script in it cannot act as the person reading it.

use super::*;
use axum::http::header;
use axum::response::{IntoResponse, Response};

/// The content type of a documentation file, by its name; what is not
/// known is a download.
fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

pub(super) async fn docs_root(access: RepoAccess<Read>) -> axum::response::Redirect {
    axum::response::Redirect::permanent(&format!("{}/docs/", access.repo.url()))
}

pub(super) async fn docs_index(state: State<AppState>, access: RepoAccess<Read>) -> Result<Response> {
    serve(state, access, String::new()).await
}

pub(super) async fn docs_file(
    state: State<AppState>,
    access: RepoAccess<Read>,
    Path((_, _, path)): Path<(String, String, String)>,
) -> Result<Response> {
    serve(state, access, path).await
}

async fn serve(State(state): State<AppState>, access: RepoAccess<Read>, path: String) -> Result<Response> {
    let repo = access.repo.id;
    let docs = state
        .db
        .read(move |c| crate::db::releases::docs(c, repo))
        .await?
        .ok_or(Error::NotFound)?;
    let rel = std::path::Path::new(&path);
    if rel.components().any(|c| !matches!(c, std::path::Component::Normal(_))) {
        return Err(Error::NotFound);
    }
    let data = state.config.data_dir.clone();
    let sha = docs.sha256.clone();
    let root = crate::error::blocking("unpacking documentation", move || unpacked(&data, &sha)).await??;
    let mut file = root.join(rel);
    let meta = tokio::fs::symlink_metadata(&file).await.ok();
    if meta.as_ref().is_some_and(|m| m.is_dir()) {
        if !path.is_empty() && !path.ends_with('/') {
            let to = format!("{}/docs/{path}/", access.repo.url());
            return Ok(axum::response::Redirect::permanent(&to).into_response());
        }
        file = file.join("index.html");
    }
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Ok(opened) = tokio::fs::File::open(&file).await else {
        return Err(Error::NotFound);
    };
    let len = opened.metadata().await.map(|m| m.len()).unwrap_or(0);
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(opened));
    Ok((
        [
            (header::CONTENT_TYPE, content_type(&name).to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox".into(),
            ),
            (header::REFERRER_POLICY, "no-referrer".into()),
            (header::CACHE_CONTROL, "no-cache".into()),
        ],
        body,
    )
        .into_response())
}

/// The folder documentation archive `sha` is unpacked in, unpacking it
/// first when it is not (into a fresh folder, renamed into place whole).
fn unpacked(data: &crate::data_dir::DataDir, sha: &str) -> Result<std::path::PathBuf> {
    let dir = data.docs().join(sha);
    if dir.is_dir() {
        return Ok(dir);
    }
    std::fs::create_dir_all(data.docs())?;
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| Error::Internal(e.to_string()))?;
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = data.docs().join(format!("tmp-{nonce}"));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    // Only the archive's files and folders: it is a job's making.
    let (files, bytes) = (crate::ci::publish::MAX_DOC_FILES, crate::ci::publish::MAX_DOC_BYTES);
    crate::ci::artifacts::extract_files(&data.artifacts(), sha, &tmp, files, bytes)?;
    if std::fs::rename(&tmp, &dir).is_err() {
        // Another request unpacked it first.
        let _ = std::fs::remove_dir_all(&tmp);
    }
    Ok(dir)
}

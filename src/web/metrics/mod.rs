//! `/metrics`: the server in Prometheus's text format (OpenMetrics), with
//! the well-kept `prometheus-client`. Requests by route and status with
//! latency histograms and git operations and bytes are counted as they
//! happen; runs, jobs, the queue, job durations, deployments, webhook
//! deliveries and the database's size are read from SQLite at each scrape.
//! With `--metrics-token`, only a scraper that sends it as a bearer token
//! is answered; without one, only this machine (loopback) is, unless
//! `--metrics-public` says anyone may.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

mod registry;

pub use registry::Metrics;

use crate::web::AppState;
use registry::read_snapshot;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}
use crate::error::{Error, Result};

/// Counts each request by its route (the pattern, never the path a client
/// chose) and times it.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    // Labels come from a fixed set: a client's made-up method is "other",
    // so it cannot grow the series without bound.
    let method = match request.method().as_str() {
        m @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => m,
        _ => "other",
    }
    .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let m = &state.metrics;
    m.latency
        .get_or_create(&vec![("route", route.clone()), ("method", method.clone())])
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&vec![
            ("route", route),
            ("method", method),
            ("status", response.status().as_u16().to_string()),
        ])
        .inc();
    response
}

async fn scrape(
    State(state): State<AppState>,
    axum::extract::ConnectInfo(client): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
) -> Result<Response> {
    let local = client.ip().to_canonical().is_loopback();
    if state.config.metrics_token.is_none() && !state.config.metrics_public && !local {
        return Err(Error::Forbidden(
            "/metrics answers only this machine; start the server with --metrics-token (for scrapers elsewhere) or --metrics-public"
                .into(),
        ));
    }
    if let Some(token) = &state.config.metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        // Compared as digests: how long a comparison takes tells nothing of the token.
        let digest = |t: &str| {
            use sha2::Digest;
            sha2::Sha256::digest(t.as_bytes())
        };
        let ok = given.is_some_and(|g| digest(g) == digest(token));
        if !ok {
            return Err(Error::Unauthenticated(
                "/metrics wants the token the server was started with (--metrics-token), as Authorization: Bearer"
                    .into(),
            ));
        }
    }
    let database_bytes = state
        .config
        .data_dir
        .database_files()
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let snapshot = state.db.read(move |c| read_snapshot(c, database_bytes)).await?;
    let metrics = state.metrics.clone();
    let text = crate::error::blocking("encoding the metrics", move || {
        *crate::sync::lock(&metrics.stored.now) = snapshot;
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &metrics.registry)
            .map_err(|_| Error::internal("encoding the metrics"))?;
        Ok::<_, Error>(text)
    })
    .await??;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

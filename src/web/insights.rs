//! `/{owner}/{repo}/insights`: delivery insights (the DORA measures of the
//! production environment, runs per workflow, flaky tests) as a page with
//! charts drawn on the server as SVG, and the same figures at
//! `GET /api/v1/repos/{owner}/{repo}/insights`.

use std::collections::HashMap;
use std::fmt::Write as _;

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::Result;
use crate::insights::{self, Insights, human_duration};
use crate::web::access::{Admin, Read, RepoAccess};
use crate::web::auth::CsrfForm;
use crate::web::repos::{RepoHeader, Tab};
use crate::web::{AppState, Nav};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{owner}/{repo}/insights", get(page))
        .route("/{owner}/{repo}/settings/insights", post(save))
}

#[derive(Deserialize)]
pub(crate) struct Period {
    days: Option<String>,
}

async fn gather(state: &AppState, access: &RepoAccess<Read>, days: i64) -> Result<Insights> {
    let (id, path) = (access.repo.id, access.path.clone());
    state
        .db
        .read(move |c| insights::gather(c, id, &path, days, crate::time::now()))
        .await
}

/// A figure as the page shows it.
struct Figure {
    name: &'static str,
    value: String,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "repos/insights.html")]
struct Page {
    nav: Nav,
    header: RepoHeader,
    days: i64,
    periods: [i64; 3],
    figures: Vec<Figure>,
    deployments_chart: String,
    workflows_chart: String,
    insights: Insights,
    can_admin: bool,
}

impl Page {
    fn duration(&self, seconds: &i64) -> String {
        human_duration(*seconds)
    }

    fn percent(&self, rate: &f64) -> String {
        format!("{:.0}%", rate * 100.0)
    }
}

fn figures(i: &Insights) -> Vec<Figure> {
    let d = &i.dora;
    let none = || "—".to_string();
    vec![
        Figure {
            name: "Deployment frequency",
            value: format!("{:.2} a day", d.deployments_per_day),
            detail: format!(
                "{} successful deployments to {} in {} days",
                d.deployments, d.environment, d.days
            ),
        },
        Figure {
            name: "Lead time for changes",
            value: d.lead_time_seconds.map(human_duration).unwrap_or_else(none),
            detail: format!("median, commit to production, over {} changes", d.changes_deployed),
        },
        Figure {
            name: "Change failure rate",
            value: d
                .change_failure_rate
                .map(|r| format!("{:.0}%", r * 100.0))
                .unwrap_or_else(none),
            detail: format!(
                "{} of {} deployments failed or were rolled back",
                d.failed_deployments, d.finished_deployments
            ),
        },
        Figure {
            name: "Time to restore",
            value: d.time_to_restore_seconds.map(human_duration).unwrap_or_else(none),
            detail: format!("median, over {} restored failures", d.restored_failures),
        },
    ]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Successful and failed production deployments per day, as stacked bars.
fn deployments_chart(i: &Insights) -> String {
    let days = &i.dora.per_day;
    let (w, h, pad) = (720.0, 160.0, 24.0);
    let most = days.iter().map(|(_, ok, bad)| ok + bad).max().unwrap_or(0).max(1) as f64;
    let step = (w - pad) / days.len().max(1) as f64;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="deploys-title"><title id="deploys-title">Deployments to {} per day: {} successful, {} failed</title>"#,
        escape(&i.dora.environment),
        i.dora.deployments,
        i.dora.failed_deployments
    );
    let _ = write!(
        svg,
        r#"<line class="axis" x1="{pad}" y1="{0}" x2="{w}" y2="{0}"/>"#,
        h - pad
    );
    let _ = write!(svg, r#"<text class="tick" x="0" y="12">{most}</text>"#);
    for (n, (day, ok, bad)) in days.iter().enumerate() {
        let x = pad + n as f64 * step + step * 0.15;
        let bw = step * 0.7;
        let ok_h = *ok as f64 / most * (h - 2.0 * pad);
        let bad_h = *bad as f64 / most * (h - 2.0 * pad);
        let base = h - pad;
        if *ok > 0 {
            let _ = write!(
                svg,
                r#"<rect class="ok" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{ok_h:.1}"><title>{day}: {ok} successful</title></rect>"#,
                base - ok_h
            );
        }
        if *bad > 0 {
            let _ = write!(
                svg,
                r#"<rect class="bad" x="{x:.1}" y="{:.1}" width="{bw:.1}" height="{bad_h:.1}"><title>{day}: {bad} failed</title></rect>"#,
                base - ok_h - bad_h
            );
        }
        if n == 0 || n + 1 == days.len() {
            let anchor = if n == 0 { "start" } else { "end" };
            let _ = write!(
                svg,
                r#"<text class="tick" x="{:.1}" y="{h}" text-anchor="{anchor}">{}</text>"#,
                if n == 0 { pad } else { w },
                &day[5..]
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

/// Each workflow's success rate, as horizontal bars.
fn workflows_chart(i: &Insights) -> String {
    let rows = &i.workflows;
    let (w, row) = (720.0, 26.0);
    let h = row * rows.len().max(1) as f64 + 4.0;
    let label = 260.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {w} {h}" role="img" aria-labelledby="workflows-title"><title id="workflows-title">Success rate of each workflow's runs</title>"#
    );
    for (n, s) in rows.iter().enumerate() {
        let y = n as f64 * row + 4.0;
        let name = s.workflow.rsplit('/').next().unwrap_or(&s.workflow);
        let bar = (w - label - 60.0) * s.success_rate;
        let _ = write!(
            svg,
            r#"<text class="tick" x="0" y="{:.1}">{}</text><rect class="track" x="{label}" y="{y:.1}" width="{:.1}" height="{:.1}"/><rect class="ok" x="{label}" y="{y:.1}" width="{bar:.1}" height="{:.1}"><title>{}: {} of {} runs succeeded</title></rect><text class="tick" x="{:.1}" y="{:.1}">{:.0}%</text>"#,
            y + 15.0,
            escape(name),
            w - label - 60.0,
            row - 8.0,
            row - 8.0,
            escape(name),
            s.succeeded,
            s.runs,
            w - 52.0,
            y + 15.0,
            s.success_rate * 100.0
        );
    }
    svg.push_str("</svg>");
    svg
}

async fn page(
    State(state): State<AppState>,
    nav: Nav,
    access: RepoAccess<Read>,
    Query(period): Query<Period>,
) -> Result<Page> {
    let days = insights::period(period.days.as_deref()).map_err(|e| crate::error::Error::invalid(e.to_string()))?;
    let found = gather(&state, &access, days).await?;
    Ok(Page {
        nav,
        can_admin: access.access >= crate::repos::Access::Admin,
        header: RepoHeader::new(access.repo.clone(), access.access, Tab::Insights),
        days,
        periods: insights::PERIODS,
        figures: figures(&found),
        deployments_chart: deployments_chart(&found),
        workflows_chart: workflows_chart(&found),
        insights: found,
    })
}

pub(crate) async fn api(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    Query(period): Query<Period>,
) -> Result<Json<Value>> {
    let days = insights::period(period.days.as_deref())?;
    let found = gather(&state, &access, days).await?;
    Ok(Json(json!({
        "days": days,
        "environment": found.dora.environment,
        "dora": found.dora,
        "workflows": found.workflows,
        "flaky_tests": found.flaky_tests,
    })))
}

async fn save(
    State(state): State<AppState>,
    access: RepoAccess<Admin>,
    CsrfForm(form): CsrfForm<HashMap<String, String>>,
) -> Result<Response> {
    let (id, name) = (access.repo.id, form.get("production").cloned().unwrap_or_default());
    state
        .db
        .write(move |tx| insights::set_production(tx, id, &name))
        .await?;
    Ok(Redirect::to(&format!("{}/insights", access.repo.url())).into_response())
}

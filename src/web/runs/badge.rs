//! `/{owner}/{repo}/badge.svg`: the state of the newest run, for READMEs.

use super::*;

#[derive(serde::Deserialize)]
pub struct BadgeQuery {
    branch: Option<String>,
    workflow: Option<String>,
}

/// `/{owner}/{repo}/badge.svg?branch=main&workflow=ci.yml`: the state of the
/// newest run, as a small image for READMEs.
pub(super) async fn badge_svg(
    State(state): State<AppState>,
    access: RepoAccess<Read>,
    axum::extract::Query(q): axum::extract::Query<BadgeQuery>,
) -> Result<axum::response::Response> {
    use axum::http::{HeaderValue, header};
    use axum::response::IntoResponse;
    let id = access.repo.id;
    let branch = q.branch.unwrap_or_else(|| access.repo.default_branch.clone());
    let workflow = q.workflow;
    let newest = state
        .db
        .read(move |c| {
            let filter = runs::Filter {
                branch: Some(branch),
                workflow,
                ..Default::default()
            };
            let (list, _) = runs::list(c, id, &filter, 1, 0)?;
            Ok(list.into_iter().next())
        })
        .await?;
    let (label, color) = match newest.as_ref().map(|r| (r.status, r.conclusion)) {
        None => ("no runs", "#6e7781"),
        Some((status, _)) if status.is_open() => ("running", "#bf8700"),
        Some((_, Some(Conclusion::Success))) => ("passing", "#2da44e"),
        Some((_, Some(c))) if c.failed() => ("failing", "#cf222e"),
        Some((status, conclusion)) => (badge(status, conclusion).0, "#6e7781"),
    };
    let name = newest
        .as_ref()
        .map(|r| r.name.clone())
        .unwrap_or_else(|| "build".into());
    let name = crate::markup::escape(&name);
    let (lw, rw) = (8 + 7 * name.chars().count() as u32, 8 + 7 * label.len() as u32);
    let svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{name}: {label}"><title>{name}: {label}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{rw}" height="20" fill="{color}"/><g fill="#fff" font-family="Verdana,sans-serif" font-size="11"><text x="4" y="14">{name}</text><text x="{tx}" y="14">{label}</text></g></svg>"##,
        w = lw + rw,
        tx = lw + 4
    );
    let mut response = svg.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

//! Pagination as GitHub does it: `page` and `per_page`, and the `Link`
//! header.

use axum::Json;
use axum::response::{IntoResponse, Response};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, Result};

/// A filter's value, one of `allowed` (`default` when not given); anything
/// else is a 422 that lists what may be given.
pub fn one_of(
    name: &str,
    value: Option<&str>,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'static str> {
    match value {
        None => Ok(default),
        Some(v) if let Some(a) = allowed.iter().find(|a| **a == v) => Ok(a),
        Some(v) => Err(Error::Unprocessable(format!(
            "{name} is one of {}, not {v:?}",
            allowed.join(", ")
        ))),
    }
}

/// `?page=&per_page=` of the API's lists: pages from 1, 1 to 100 per page
/// (30 when not given).
#[derive(Deserialize)]
pub struct Page {
    page: Option<usize>,
    per_page: Option<usize>,
}

impl Page {
    /// GitHub's `Link` header for this page of the list at `uri` (as the
    /// client asked for it, on `base`): `next` when there is `more`, `last`
    /// when the `total` is known, `prev` and `first` after the first page.
    pub fn links(&self, base: &str, uri: &axum::http::Uri, more: bool, total: Option<usize>) -> Option<String> {
        let per_page = self.per_page.unwrap_or(30).clamp(1, 100);
        let page = self.page.unwrap_or(1).max(1);
        link_header(base, uri, page, per_page, more, total)
    }

    /// Items `skip..skip+take` of `all`, with the `Link` header of this page.
    pub fn slice(&self, all: Vec<Value>, base: &str, uri: &axum::http::Uri) -> Result<Paged> {
        let (skip, take) = self.window()?;
        let total = all.len();
        let items: Vec<Value> = all.into_iter().skip(skip).take(take).collect();
        Ok(Paged {
            link: self.links(base, uri, skip + items.len() < total, Some(total)),
            items,
        })
    }

    /// One page read with one item more than `window` takes: the extra one
    /// says a next page follows (its `Link` has no `last`).
    pub fn trimmed(&self, mut items: Vec<Value>, base: &str, uri: &axum::http::Uri) -> Result<Paged> {
        let (_, take) = self.window()?;
        let more = items.len() > take;
        items.truncate(take);
        Ok(Paged {
            link: self.links(base, uri, more, None),
            items,
        })
    }

    /// How many items to skip and to take.
    pub fn window(&self) -> Result<(usize, usize)> {
        let per_page = self.per_page.unwrap_or(30);
        let page = self.page.unwrap_or(1);
        if !(1..=100).contains(&per_page) || page == 0 {
            return Err(Error::invalid("page must be 1 or more and per_page between 1 and 100"));
        }
        // A page beyond any list is an empty one, not an overflow.
        let skip = (page - 1).saturating_mul(per_page).min(u32::MAX as usize);
        Ok((skip, per_page))
    }
}

/// GitHub's `Link` header of page `page` of a list at `uri`.
pub fn link_header(
    base: &str,
    uri: &axum::http::Uri,
    page: usize,
    per_page: usize,
    more: bool,
    total: Option<usize>,
) -> Option<String> {
    let last = total.map(|t| t.div_ceil(per_page).max(1));
    let at = |n: usize| {
        let mut query: Vec<String> = uri
            .query()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty() && !p.starts_with("page=") && !p.starts_with("per_page="))
            .map(str::to_string)
            .collect();
        query.push(format!("per_page={per_page}"));
        query.push(format!("page={n}"));
        format!("<{base}{}?{}>", uri.path(), query.join("&"))
    };
    let mut links = Vec::new();
    if more {
        links.push(format!("{}; rel=\"next\"", at(page + 1)));
    }
    if let Some(last) = last
        && (more || page < last)
    {
        links.push(format!("{}; rel=\"last\"", at(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", at(page - 1)));
        links.push(format!("{}; rel=\"first\"", at(1)));
    }
    (!links.is_empty()).then(|| links.join(", "))
}

/// One page of a list: a JSON array, and its `Link` header.
pub struct Paged {
    pub items: Vec<Value>,
    pub link: Option<String>,
}

impl IntoResponse for Paged {
    fn into_response(self) -> Response {
        with_link(Json(Value::Array(self.items)).into_response(), self.link)
    }
}

/// `response` with the `Link` header `link`, if any.
pub fn with_link(mut response: Response, link: Option<String>) -> Response {
    if let Some(link) = link.and_then(|l| axum::http::HeaderValue::from_str(&l).ok()) {
        response.headers_mut().insert(axum::http::header::LINK, link);
    }
    response
}

//! The API's routes, each with what it does: one table that is both the
//! router and the OpenAPI document (`/api/v1/openapi.json`, built with
//! utoipa's types), shown on the page `/api`. A route cannot be added
//! without saying what it is for, so the document is never behind.

use std::collections::BTreeMap;
use std::sync::Arc;

use askama::Template;
use askama_web::WebTemplate;
use axum::handler::Handler;
use axum::response::IntoResponse;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use axum::{Json, Router};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, Required, ResponseBuilder, ServerBuilder,
    Tag,
};

use crate::web::{AppState, Nav};

/// Where the API is served; the document's paths are below it.
pub const PREFIX: &str = "/api/v1";

/// One operation: its method, path (from `/api/v1`), area and purpose.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
}

/// Routes of the API with their operations.
pub struct Api {
    tag: &'static str,
    router: Router<AppState>,
    ops: Vec<Op>,
}

macro_rules! method {
    ($name:ident, $word:literal) => {
        #[doc = concat!("`", $word, " path`: `handler`, which does what `summary` says.")]
        pub fn $name<H, T>(self, path: &'static str, summary: &'static str, handler: H) -> Api
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.with($word, path, summary, $name(handler))
        }
    };
}

impl Api {
    /// Routes of one area of the API (`tag`: issues, actions...).
    pub fn new(tag: &'static str) -> Api {
        Api {
            tag,
            router: Router::new(),
            ops: Vec::new(),
        }
    }

    fn with(
        mut self,
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        route: MethodRouter<AppState>,
    ) -> Api {
        debug_assert!(path.starts_with(PREFIX), "{path} is not under {PREFIX}");
        self.router = self.router.route(path, route);
        self.ops.push(Op {
            method,
            path,
            tag: self.tag,
            summary,
        });
        self
    }

    method!(get, "get");
    method!(post, "post");
    method!(put, "put");
    method!(patch, "patch");
    method!(delete, "delete");

    /// Another spelling of a documented `GET` (a trailing slash).
    pub fn alias<H, T>(mut self, path: &'static str, handler: H) -> Api
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, get(handler));
        self
    }

    pub fn merge(mut self, other: Api) -> Api {
        self.router = self.router.merge(other.router);
        self.ops.extend(other.ops);
        self
    }

    /// The router, with `/api/v1/openapi.json` and the page `/api` that
    /// describe it.
    pub fn finish(self) -> Router<AppState> {
        let document = Arc::new(openapi(&self.ops));
        let ops = Arc::new(self.ops);
        self.router
            .route(
                "/api/v1/openapi.json",
                get(move || {
                    let document = document.clone();
                    async move { Json(document.as_ref().clone()).into_response() }
                }),
            )
            .route(
                "/api",
                get(move |nav: Nav| {
                    let ops = ops.clone();
                    async move { page(nav, &ops) }
                }),
            )
    }
}

/// The path parameters of `path`: `{owner}`, `{*path}`...
fn parameters(path: &str) -> Vec<String> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
        .map(|s| s.trim_start_matches('*').to_string())
        .collect()
}

/// `path` as OpenAPI writes it: below the server's `/api/v1`, `{*path}` as `{path}`.
fn openapi_path(path: &str) -> String {
    match path.trim_start_matches(PREFIX) {
        "" => "/".into(),
        below => below.replace("{*", "{"),
    }
}

/// An operation's id: its method and path in words (`get-repos-owner-repo-issues`).
fn operation_id(op: &Op) -> String {
    let mut id = op.method.to_string();
    for w in openapi_path(op.path)
        .split(['/', '{', '}', '-', '_'])
        .filter(|w| !w.is_empty())
    {
        id.push('-');
        id.push_str(w);
    }
    id
}

fn http_method(word: &str) -> HttpMethod {
    match word {
        "post" => HttpMethod::Post,
        "put" => HttpMethod::Put,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        _ => HttpMethod::Get,
    }
}

/// The OpenAPI 3.1 document of `ops`.
pub fn openapi(ops: &[Op]) -> OpenApi {
    let mut by_path: BTreeMap<String, Vec<&Op>> = BTreeMap::new();
    for op in ops {
        by_path.entry(openapi_path(op.path)).or_default().push(op);
    }
    let mut paths = PathsBuilder::new();
    for (path, ops) in by_path {
        let mut item: Option<PathItem> = None;
        for op in ops {
            let mut operation = OperationBuilder::new()
                .tag(op.tag)
                .summary(Some(op.summary))
                .operation_id(Some(operation_id(op)))
                .response(
                    "2XX",
                    ResponseBuilder::new().description("Done: the answer is in GitHub's shape of the same call"),
                )
                .response(
                    "4XX",
                    ResponseBuilder::new().description(
                        "Refused: `{\"message\": …}` says why (a 422 lists GitHub's `errors` too); \
                         a private repository answers 404 to those who may not read it",
                    ),
                );
            for name in parameters(op.path) {
                operation = operation.parameter(
                    ParameterBuilder::new()
                        .name(name)
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True)
                        .schema(Some(ObjectBuilder::new().schema_type(Type::String))),
                );
            }
            let method = http_method(op.method);
            item = Some(match item {
                None => PathItem::new(method, operation),
                Some(mut i) => {
                    i.merge_operations(PathItem::new(method, operation));
                    i
                }
            });
        }
        if let Some(item) = item {
            paths = paths.path(path, item);
        }
    }
    let mut tags: Vec<&str> = ops.iter().map(|o| o.tag).collect();
    tags.sort();
    tags.dedup();
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Hearth")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "A git forge with CI/CD. The paths, fields, pagination (`page`, `per_page`, \
                     `Link`) and errors are GitHub's; the same API is served under /api/v3.",
                )),
        )
        .servers(Some([ServerBuilder::new().url(PREFIX).build()]))
        .paths(paths)
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "token",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .description(Some("A personal access token: `Authorization: token T` or `Bearer T`"))
                            .build(),
                    ),
                )
                .security_scheme(
                    "basic",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Basic)
                            .description(Some("A user name and a password or token"))
                            .build(),
                    ),
                )
                .build(),
        ))
        .security(Some([
            SecurityRequirement::new("token", Vec::<String>::new()),
            SecurityRequirement::new("basic", Vec::<String>::new()),
            SecurityRequirement::default(),
        ]))
        .tags(Some(tags.into_iter().map(Tag::new)))
        .build()
}

/// One area of the API on its page.
struct Area {
    tag: &'static str,
    ops: Vec<Op>,
}

#[derive(Template, WebTemplate)]
#[template(path = "api.html")]
struct ApiPage {
    nav: Nav,
    areas: Vec<Area>,
    count: usize,
}

fn page(nav: Nav, ops: &[Op]) -> ApiPage {
    let mut areas: Vec<Area> = Vec::new();
    for op in ops {
        match areas.iter_mut().find(|a| a.tag == op.tag) {
            Some(a) => a.ops.push(op.clone()),
            None => areas.push(Area {
                tag: op.tag,
                ops: vec![op.clone()],
            }),
        }
    }
    for a in &mut areas {
        a.ops.sort_by(|x, y| (x.path, x.method).cmp(&(y.path, y.method)));
    }
    ApiPage {
        nav,
        count: ops.len(),
        areas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_ids_are_spelled_as_openapi_wants() {
        let op = Op {
            method: "get",
            path: "/api/v1/repos/{owner}/{repo}/contents/{*path}",
            tag: "code",
            summary: "",
        };
        assert_eq!(openapi_path(op.path), "/repos/{owner}/{repo}/contents/{path}");
        assert_eq!(parameters(op.path), ["owner", "repo", "path"]);
        assert_eq!(operation_id(&op), "get-repos-owner-repo-contents-path");
    }
}

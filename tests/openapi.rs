//! The API describes itself: `/api/v1/openapi.json` is an OpenAPI 3.1
//! document of every operation the router serves (it is made from the same
//! table), and `/api` shows it as a page.

mod common;

use std::collections::HashSet;

use common::TestServer;
use serde_json::Value;

#[test]
fn the_openapi_document_lists_every_operation_and_the_page_shows_it() {
    let server = TestServer::start();
    let (status, doc) = server.api("GET", "/api/v1/openapi.json", None, None);
    assert_eq!(status, 200, "{doc}");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let paths = doc["paths"].as_object().unwrap();
    let mut ids = HashSet::new();
    let mut count = 0;
    for (path, item) in paths {
        assert!(path.starts_with('/') && !path.starts_with("/api/"), "{path}");
        let wanted: Vec<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in item.as_object().unwrap() {
            count += 1;
            let summary = op["summary"].as_str().unwrap_or("");
            assert!(summary.len() > 5, "{method} {path} says what it does: {op}");
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_string()),
                "ids are unique: {op}"
            );
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| ps.iter().map(|p| p["name"].as_str().unwrap()).collect())
                .unwrap_or_default();
            assert_eq!(params, wanted, "{method} {path}: its path parameters");
            assert!(op["responses"]["2XX"].is_object(), "{op}");
        }
    }
    assert!(count >= 120, "every operation: {count}");
    for (path, method) in [
        ("/repos/{owner}/{repo}/issues", "post"),
        ("/repos/{owner}/{repo}/milestones/{number}", "get"),
        ("/repos/{owner}/{repo}/contents/{path}", "get"),
        ("/repos/{owner}/{repo}/actions/jobs/{job}", "get"),
        ("/notifications", "put"),
        ("/repos/{owner}/{repo}/hooks/{hook}/pings", "post"),
    ] {
        assert!(paths[path][method].is_object(), "{method} {path} is documented");
    }
    assert!(doc["components"]["securitySchemes"]["token"].is_object());
    // The same under /api/v3.
    let (status, v3) = server.api("GET", "/api/v3/openapi.json", None, None);
    assert_eq!((status, &v3), (200, &doc));
    // Something the document does not list is not served.
    let (status, _) = server.api("GET", "/api/v1/repos/x/y/nothing-here", None, None);
    assert_eq!(status, 404);

    let page = server.get("/api").text().unwrap();
    assert!(page.contains("/api/v1/repos/{owner}/{repo}/issues"), "{page}");
    assert!(page.contains("Open an issue"), "{page}");
    assert!(page.contains(&format!("These {count} operations")), "{page}");
    let root: Value = server.api("GET", "/api/v3/", None, None).1;
    assert!(
        root["current_user_url"].as_str().unwrap().ends_with("/api/v1/user"),
        "{root}"
    );
}

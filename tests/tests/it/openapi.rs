//! The contract stays the code's: the committed `openapi.json` is what the code generates, every
//! route the functions serve is documented (and no method that is not), and each function and
//! the local stack serve their documents. Regenerate the file with
//! `RAMPART_BLESS=1 cargo test -p rampart-tests --test it openapi::`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rampart_tests::spawn_app;
use serde_json::Value;

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn generated() -> Value {
    serde_json::to_value(rampart_local::openapi()).expect("the contract serialises")
}

#[test]
fn committed_openapi_json_is_what_the_code_generates() {
    let text = rampart_local::openapi()
        .to_pretty_json()
        .expect("serialise")
        + "\n";
    let path = repo().join("openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed == text {
        return;
    }
    if std::env::var("RAMPART_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, text).expect("write openapi.json");
        return;
    }
    panic!(
        "openapi.json is stale: a route or its docs changed. Regenerate it with \
         `RAMPART_BLESS=1 cargo test -p rampart-tests --test it openapi::` and review the diff."
    );
}

#[test]
fn the_contract_is_openapi_3_1_with_its_security_schemes_and_problem_types() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    let schemes = doc["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for s in [
        "bearer",
        "session_cookie",
        "csrf_header",
        "admin_bearer",
        "api_key",
    ] {
        assert!(schemes.contains_key(s), "{s} missing");
    }
    assert_eq!(schemes["csrf_header"]["name"], "X-CSRF-Token");
    assert_eq!(schemes["api_key"]["name"], "X-API-Key");
    let unauthorized = &doc["components"]["responses"]["Unauthorized"];
    assert!(
        unauthorized["content"]["application/problem+json"]["example"]["type"]
            .as_str()
            .is_some_and(|t| t == "urn:rampart:problem:unauthorized")
    );
    // A body route gets the answers every JSON body can get.
    let login = &doc["paths"]["/auth/login"]["post"]["responses"];
    for status in ["200", "400", "401", "413", "415", "422", "429"] {
        assert!(login.get(status).is_some(), "/auth/login lacks {status}");
    }
}

/// Route templates spelled in `.route("…")` / `limited("…")` calls of the serving code.
/// Client generators name a method after each operationId; two operations with one id make
/// one method, and the responses of the other are dropped.
#[test]
fn every_operation_has_its_own_operation_id() {
    let doc = generated();
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    let mut repeated = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in METHODS {
            let Some(op) = item.get(*method) else {
                continue;
            };
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
                .to_string();
            if let Some(first) = seen.insert(id.clone(), format!("{method} {path}")) {
                repeated.push(format!("{id}: {first} and {method} {path}"));
            }
        }
    }
    assert!(repeated.is_empty(), "operationIds used twice: {repeated:?}");
}

fn declared_routes() -> BTreeSet<String> {
    let mut files = Vec::new();
    for dir in ["functions", "shared/src", "infra/local/src"] {
        collect(&repo().join(dir), &mut files);
    }
    let mut routes = BTreeSet::new();
    for f in files {
        let src = std::fs::read_to_string(&f).expect("read");
        let src = src.split("#[cfg(test)]").next().unwrap_or("");
        for call in [".route(", "limited(", "serve("] {
            for (i, _) in src.match_indices(call) {
                let rest = src[i + call.len()..].trim_start();
                let Some(lit) = rest.strip_prefix('"') else {
                    continue;
                };
                let path = &lit[..lit.find('"').unwrap_or(0)];
                if path.starts_with('/') && !path.starts_with("/_local") {
                    routes.insert(path.to_string());
                }
            }
        }
    }
    for provider in rampart_webhooks::Registry::builtin().iter() {
        for p in provider.paths() {
            routes.insert(p.to_string());
        }
    }
    routes
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_served_route_is_in_the_contract() {
    let doc = generated();
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let missing: Vec<_> = declared_routes()
        .into_iter()
        .filter(|r| !documented.contains(r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes without a contract (document them: shared/src/openapi/mod.rs says how): {missing:?}"
    );
}

#[tokio::test]
async fn no_route_answers_a_method_its_contract_does_not_name() {
    let app = spawn_app().await;
    let doc = generated();
    let mut surprises = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        let concrete = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for m in METHODS {
            if item.get(*m).is_some() {
                continue;
            }
            let method = reqwest::Method::from_bytes(m.to_uppercase().as_bytes()).expect("method");
            let r = app
                .client
                .request(method, app.url(&concrete))
                .send()
                .await
                .expect("send");
            // A per-IP limit in front of a route also counts its wrong methods (the limit layer
            // wraps the route's method router), so a route's tight limit may answer first.
            if r.status() != 405 && r.status() != 429 {
                surprises.push(format!("{m} {path} -> {}", r.status()));
            }
        }
    }
    assert!(
        surprises.is_empty(),
        "undocumented methods answered: {surprises:?}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn each_function_serves_its_part_and_the_stack_the_whole() {
    let app = spawn_app().await;
    let whole: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json");
    assert_eq!(whole, generated());
    for (group, sample) in [
        ("auth", "/auth/login"),
        ("billing", "/billing/health"),
        ("usage", "/usage/health"),
        ("orders", "/orders/health"),
        ("webhooks", "/webhooks/health"),
        ("account", "/account/health"),
    ] {
        let r = app
            .client
            .get(app.url(&format!("/{group}/openapi.json")))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status(), 200, "{group}");
        assert_eq!(r.headers()["content-type"], "application/json");
        let part: Value = r.json().await.expect("json");
        assert_eq!(part["openapi"], "3.1.0");
        assert!(
            part["paths"].get(sample).is_some(),
            "{group} lacks {sample}"
        );
        assert!(
            part["paths"].get("/openapi.json").is_none(),
            "{group} serves only its part"
        );
    }
    app.shutdown().await;
}

//! Swagger UI at `/docs`: the gateway's over the merged document, each service's over its
//! own, rendered by headless Chromium from files the binaries carry (no CDN).
//!
//! The stand-in services are assembled as every real one is (`platform::service::assemble`),
//! so their `/docs` is the one auth, project and memory serve.

use std::{net::SocketAddr, process::Stdio, time::Duration};

use axum::{Json, Router, routing::get};
use gateway::config::Settings;
use platform::config::CommonConfig;
use serde_json::json;
use tokio::process::Command;
use url::Url;

/// Each stand-in service documents one operation on this path.
const AUTH_PATH: &str = "/api/auth/login";
const PROJECT_PATH: &str = "/api/projects";
const MEMORY_PATH: &str = "/api/memory/search";

/// Loading the page, its scripts and the document, then rendering, on a loaded CI machine.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(90);

/// A stand-in service whose `/openapi.json` lists one `GET` on `path`.
async fn service(name: &'static str, path: &'static str) -> SocketAddr {
    let document = json!({
        "openapi": "3.1.0",
        "info": {"title": format!("DevMentor {name}"), "version": "0.1.0"},
        "paths": {path: {"get": {
            "tags": [name],
            "summary": format!("an operation of {name}"),
            "responses": {"200": {"description": "ok"}}
        }}},
    });
    let routes = Router::new().route(
        "/openapi.json",
        get(move || {
            let document = document.clone();
            async move { Json(document) }
        }),
    );
    let app = platform::service::assemble(name, routes, Vec::new(), &CommonConfig::default());
    testkit::serve_on_loopback(app).await
}

struct Stack {
    gateway: SocketAddr,
    services: [SocketAddr; 3],
}

/// The three stand-ins and the gateway in front of them.
async fn stack() -> Stack {
    let services = [
        service("auth", AUTH_PATH).await,
        service("project", PROJECT_PATH).await,
        service("memory", MEMORY_PATH).await,
    ];
    let [auth, project, memory] =
        services.map(|address| Url::parse(&format!("http://{address}")).expect("a service URL"));
    let app = gateway::app(
        &Settings::new(auth, project, memory),
        &CommonConfig::default(),
    )
    .expect("the gateway's app");
    Stack {
        gateway: testkit::serve_on_loopback(app).await,
        services,
    }
}

/// The DOM of `url` once Chromium has run its scripts (Swagger UI fetches the document and
/// renders it). Virtual time waits for pending fetches, so no fixed sleep is needed.
async fn rendered_dom(url: &str) -> String {
    let profile = std::env::temp_dir().join(format!("docs-chromium-{}", uuid::Uuid::new_v4()));
    let spawned = Command::new("chromium")
        .args([
            "--headless=new",
            // Root in CI containers has no user namespace for Chromium's sandbox.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            // Loopback only: no proxy from the environment, no calls home.
            "--no-proxy-server",
            "--disable-background-networking",
            "--no-first-run",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn();
    let child = match spawned {
        Ok(child) => child,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
            "these tests need Chromium on PATH as `chromium`; install it with \
             `apt-get install chromium` (Debian/Ubuntu)"
        ),
        Err(error) => panic!("cannot start chromium: {error}"),
    };
    let output = tokio::time::timeout(CHROMIUM_LIMIT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("chromium did not render {url} within {CHROMIUM_LIMIT:?}"))
        .expect("chromium's output");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(
        output.status.success(),
        "chromium exited with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

/// The paths of the operations Swagger UI rendered: each `opblock` summary carries its path
/// in a `data-path` attribute.
fn operation_paths(dom: &str) -> Vec<&str> {
    dom.split("data-path=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect()
}

#[tokio::test]
async fn gateway_docs_render_the_operations_of_all_three_services() {
    let stack = stack().await;
    let dom = rendered_dom(&format!("http://{}/docs", stack.gateway)).await;
    let paths = operation_paths(&dom);
    for path in [AUTH_PATH, PROJECT_PATH, MEMORY_PATH] {
        assert!(
            paths.contains(&path),
            "no operation on {path}; rendered {paths:?} in {dom}"
        );
    }
}

#[tokio::test]
async fn a_service_docs_render_its_own_operations_only() {
    let stack = stack().await;
    let project = stack.services[1];
    let dom = rendered_dom(&format!("http://{project}/docs")).await;
    assert_eq!(operation_paths(&dom), [PROJECT_PATH], "{dom}");
}

#[tokio::test]
async fn every_docs_page_loads_bundled_assets_and_nothing_from_a_cdn() {
    let stack = stack().await;
    let client = testkit::http_client();
    for address in std::iter::once(stack.gateway).chain(stack.services) {
        // `/docs` redirects to `/docs/`, which the client follows.
        let page = client
            .get(format!("http://{address}/docs"))
            .send()
            .await
            .expect("the page answers");
        assert_eq!(page.status(), 200, "{address}");
        assert_eq!(page.url().path(), "/docs/", "{address}");
        assert_eq!(page.headers()["content-type"], "text/html", "{address}");
        let html = page.text().await.expect("the page's HTML");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{address} refers to another origin: {html}"
        );
        for asset in [
            "swagger-ui.css",
            "swagger-ui-bundle.js",
            "swagger-initializer.js",
        ] {
            assert!(
                html.contains(&format!("./{asset}")),
                "{address} lacks {asset}: {html}"
            );
            let file = client
                .get(format!("http://{address}/docs/{asset}"))
                .send()
                .await
                .expect("the asset answers");
            assert_eq!(file.status(), 200, "{address} {asset}");
        }
    }
}

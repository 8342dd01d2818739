//! The three services behind the gateway, and the pooled HTTP client that talks to them.

use std::time::Duration;

use url::Url;

use crate::config::Settings;

/// One service the gateway forwards to.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// `auth`, `project` or `memory`: shown in errors, health checks and the merged spec.
    pub name: &'static str,
    /// Scheme, host, port and any path prefix, without a trailing slash.
    base: String,
    /// Just the path prefix of `base` (`/memory` in `http://lb/memory`), often empty.
    base_path: String,
}

impl Upstream {
    pub fn new(name: &'static str, base: &Url) -> Self {
        Self {
            name,
            base: base.as_str().trim_end_matches('/').to_owned(),
            base_path: base.path().trim_end_matches('/').to_owned(),
        }
    }

    /// The upstream address of `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// The upstream address of `path_and_query` as the HTTP client will send it, or `None`
    /// when that is not `prefix` or below it: the URL parser resolves `..` and `%2e%2e`
    /// segments (and takes `\` for `/`), which would let a request routed by one prefix
    /// reach any path of the service.
    pub fn url_within(&self, path_and_query: &str, prefix: &str) -> Option<Url> {
        let url = Url::parse(&self.url(path_and_query)).ok()?;
        let rest = url
            .path()
            .strip_prefix(self.base_path.as_str())?
            .strip_prefix(prefix)?;
        (rest.is_empty() || rest.starts_with('/')).then_some(url)
    }
}

/// Every service, in the order the merged OpenAPI document lists them.
#[derive(Debug, Clone)]
pub struct Upstreams {
    pub auth: Upstream,
    pub project: Upstream,
    pub memory: Upstream,
}

impl Upstreams {
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            auth: Upstream::new("auth", &settings.auth_url),
            project: Upstream::new("project", &settings.project_url),
            memory: Upstream::new("memory", &settings.memory_url),
        }
    }

    pub fn all(&self) -> [&Upstream; 3] {
        [&self.auth, &self.project, &self.memory]
    }
}

/// Idle pooled connections kept per upstream; enough for a burst of frontend requests.
const MAX_IDLE_PER_UPSTREAM: usize = 32;
/// Below the services' `HEADER_READ_TIMEOUT_SECS` (10 s by default), after which a service
/// closes an idle connection: the gateway drops it first, so it never sends a request down a
/// connection the service is closing at that moment (a 502 for the caller).
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(5);

/// One pooled client for all upstreams. It must not follow redirects (the browser should
/// see them), read proxy variables (upstreams are direct neighbours) or decompress (bodies
/// pass through byte for byte). `read_timeout` bounds the wait for the response head, then
/// each wait for the next body chunk, so a stalled download ends instead of holding a
/// connection forever.
pub fn client(settings: &Settings) -> reqwest::Result<reqwest::Client> {
    builder(settings)
        .read_timeout(settings.upstream_timeout)
        .build()
}

/// The client for imports ([`crate::proxy`]): the upstream answers only once the whole body
/// is imported, minutes for a large one, so no per-read limit; the whole exchange is bounded
/// by `import_timeout` instead.
pub fn import_client(settings: &Settings) -> reqwest::Result<reqwest::Client> {
    builder(settings).timeout(settings.import_timeout).build()
}

/// The client for project file uploads ([`crate::proxy`]): a slow client's body takes
/// minutes to pass through, and a read timeout would count from its start, so none; the
/// proxy applies the upstream timeout from the last body bytes sent instead, and
/// `upload_timeout` bounds the whole exchange.
pub fn upload_client(settings: &Settings) -> reqwest::Result<reqwest::Client> {
    builder(settings).timeout(settings.upload_timeout).build()
}

fn builder(settings: &Settings) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(settings.connect_timeout)
        .pool_max_idle_per_host(MAX_IDLE_PER_UPSTREAM)
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_path_prefix_and_query() {
        let base = Url::parse("http://project:3005/").unwrap();
        let upstream = Upstream::new("project", &base);
        assert_eq!(
            upstream.url("/api/projects?limit=5"),
            "http://project:3005/api/projects?limit=5"
        );
        let prefixed = Upstream::new("memory", &Url::parse("http://lb/memory").unwrap());
        assert_eq!(prefixed.url("/api/memory"), "http://lb/memory/api/memory");
    }

    #[test]
    fn urls_that_resolve_outside_the_prefix_are_refused() {
        for base in ["http://memory:3003/", "http://lb/memory"] {
            let upstream = Upstream::new("memory", &Url::parse(base).unwrap());
            for inside in [
                "/api/memory",
                "/api/memory/",
                "/api/memory/documents/notes.md?x=1",
                "/api/memory/a%20b/.hidden",
            ] {
                let url = upstream.url_within(inside, "/api/memory");
                assert!(url.is_some(), "{base} {inside}");
            }
            for outside in [
                "/api/memory/%2e%2e/%2e%2e/health/ready",
                "/api/memory/../../openapi.json",
                "/api/memory/.%2E/x",
                "/api/memory/..\\..\\openapi.json",
                "/api/memoryX",
                "/api/memory/%2e%2e",
            ] {
                let url = upstream.url_within(outside, "/api/memory");
                assert_eq!(url, None, "{base} {outside}");
            }
        }
    }
}

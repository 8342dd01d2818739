//! Where file bytes live, read from the settings: under `PROJECTS_DIR` (the default), or in
//! an S3 bucket (`STORAGE_URL=s3://bucket/prefix` and the `STORAGE_S3_*` settings). Every
//! mistake is refused here, by name, before anything is stored.

use std::path::PathBuf;

use object_store::path::Path as ObjectPath;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// The AWS region used when `STORAGE_S3_REGION` is unset (most S3-compatible servers ignore it).
pub const DEFAULT_S3_REGION: &str = "us-east-1";

#[derive(Debug, Clone)]
pub enum StorageLocation {
    /// A directory (`PROJECTS_DIR`).
    Local(PathBuf),
    S3(S3Location),
}

/// A bucket, the prefix under which this service owns every key, and how to reach it.
#[derive(Debug, Clone)]
pub struct S3Location {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the whole bucket.
    pub prefix: String,
    /// `None`: AWS itself, addressed by region.
    pub endpoint: Option<String>,
    pub region: String,
    /// `None`: the standard AWS chain (`AWS_*` variables, web identity, instance profile).
    pub credentials: Option<(String, SecretString)>,
    pub allow_http: bool,
}

/// The raw `STORAGE_*` settings, as [`crate::config::ProjectConfig`] reads them.
#[derive(Debug, Clone, Copy)]
pub struct StorageSettings<'a> {
    pub url: Option<&'a str>,
    pub endpoint: Option<&'a str>,
    pub region: Option<&'a str>,
    pub access_key_id: Option<&'a str>,
    pub secret_access_key: Option<&'a SecretString>,
    pub allow_http: bool,
}

impl StorageLocation {
    /// `projects_dir` unless `STORAGE_URL` names a bucket.
    pub fn from_settings(
        projects_dir: PathBuf,
        settings: StorageSettings<'_>,
    ) -> Result<Self, String> {
        let present = |value: Option<&str>| value.is_some_and(|value| !value.trim().is_empty());
        let secret = settings
            .secret_access_key
            .filter(|secret| present(Some(secret.expose_secret())));
        let Some(url) = settings.url.filter(|url| present(Some(url))) else {
            let s3_only = [
                ("STORAGE_S3_ENDPOINT", present(settings.endpoint)),
                ("STORAGE_S3_REGION", present(settings.region)),
                ("STORAGE_S3_ACCESS_KEY_ID", present(settings.access_key_id)),
                ("STORAGE_S3_SECRET_ACCESS_KEY", secret.is_some()),
            ];
            if let Some((name, _)) = s3_only.iter().find(|(_, set)| *set) {
                // Files would silently land on local disk: almost certainly not what was meant.
                return Err(format!(
                    "{name} is set but STORAGE_URL is not: set STORAGE_URL=s3://bucket/prefix to store files in S3, or remove the STORAGE_S3_* settings"
                ));
            }
            return Ok(Self::Local(projects_dir));
        };
        let (bucket, prefix) = parse_url(url.trim())?;
        let endpoint = settings
            .endpoint
            .filter(|endpoint| present(Some(endpoint)))
            .map(|endpoint| parse_endpoint(endpoint.trim(), settings.allow_http))
            .transpose()?;
        let credentials = match (
            settings.access_key_id.filter(|key| present(Some(key))),
            secret,
        ) {
            (Some(key), Some(secret)) => Some((key.trim().to_owned(), secret.clone())),
            (None, None) => None,
            _ => {
                return Err(
                    "set both STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY, or neither (for the standard AWS credential chain)"
                        .to_owned(),
                );
            }
        };
        Ok(Self::S3(S3Location {
            bucket,
            prefix,
            endpoint,
            region: settings
                .region
                .filter(|region| present(Some(region)))
                .map_or(DEFAULT_S3_REGION, str::trim)
                .to_owned(),
            credentials,
            allow_http: settings.allow_http,
        }))
    }
}

impl S3Location {
    /// `s3://bucket/prefix`, for messages (no credentials in it).
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// `s3://bucket[/prefix]` into the bucket and the prefix. The URL's own text is never echoed:
/// a mistyped one may hold a secret.
fn parse_url(url: &str) -> Result<(String, String), String> {
    let parsed = Url::parse(url).map_err(|error| format!("STORAGE_URL is not a URL: {error}"))?;
    if parsed.scheme() != "s3" {
        return Err(format!(
            "STORAGE_URL must be s3://bucket or s3://bucket/prefix (unset it to store files under PROJECTS_DIR), not a {}:// URL",
            parsed.scheme()
        ));
    }
    if !parsed.username().is_empty()
        || parsed.password().is_some()
        || parsed.port().is_some()
        || parsed.query().is_some()
        || parsed.fragment().is_some()
    {
        return Err("STORAGE_URL takes no user, password, port, query or fragment: the server goes in STORAGE_S3_ENDPOINT, credentials in STORAGE_S3_ACCESS_KEY_ID and STORAGE_S3_SECRET_ACCESS_KEY".to_owned());
    }
    let bucket = parsed.host_str().unwrap_or_default();
    if !is_bucket_name(bucket) {
        return Err("STORAGE_URL must name a bucket: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a letter or digit".to_owned());
    }
    let prefix = parsed.path().trim_matches('/');
    // Object keys are built under it, so it must be a key prefix object_store accepts as is:
    // no empty, `.` or `..` segment, nothing percent-encoded.
    let canonical = ObjectPath::parse(prefix).is_ok_and(|path| path.as_ref() == prefix)
        && !prefix
            .split('/')
            .any(|segment| segment == "." || segment == "..")
        && !prefix.contains('%');
    if !canonical {
        return Err("STORAGE_URL's prefix must be plain path segments (no empty, `.` or `..` segment, nothing percent-encoded)".to_owned());
    }
    Ok((bucket.to_owned(), prefix.to_owned()))
}

fn is_bucket_name(name: &str) -> bool {
    let edge =
        |byte: Option<&u8>| byte.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && edge(name.as_bytes().first())
        && edge(name.as_bytes().last())
}

fn parse_endpoint(endpoint: &str, allow_http: bool) -> Result<String, String> {
    let parsed = Url::parse(endpoint)
        .map_err(|error| format!("STORAGE_S3_ENDPOINT is not a URL: {error}"))?;
    match parsed.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => {
            return Err("STORAGE_S3_ENDPOINT is plain http://: set STORAGE_S3_ALLOW_HTTP=true to allow unencrypted traffic (a server on loopback or a private network only)".to_owned());
        }
        other => {
            return Err(format!(
                "STORAGE_S3_ENDPOINT must be an http:// or https:// URL, not {other}://"
            ));
        }
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("STORAGE_S3_ENDPOINT names no host".to_owned());
    }
    Ok(endpoint.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> StorageSettings<'_> {
        StorageSettings {
            url: Some(url),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            allow_http: false,
        }
    }

    fn location(settings: StorageSettings<'_>) -> Result<StorageLocation, String> {
        StorageLocation::from_settings(PathBuf::from("/srv/projects"), settings)
    }

    #[test]
    fn bucket_and_prefix_come_from_the_url() {
        for (url, bucket, prefix) in [
            ("s3://files", "files", ""),
            ("s3://files/", "files", ""),
            (
                "s3://dev.files-1/devmentor/projects/",
                "dev.files-1",
                "devmentor/projects",
            ),
        ] {
            let Ok(StorageLocation::S3(s3)) = location(settings(url)) else {
                panic!("{url} is an S3 location");
            };
            assert_eq!(
                (s3.bucket.as_str(), s3.prefix.as_str()),
                (bucket, prefix),
                "{url}"
            );
            assert_eq!(s3.region, DEFAULT_S3_REGION);
        }
        let unset = StorageSettings {
            url: Some("  "),
            ..settings("")
        };
        assert!(matches!(location(unset), Ok(StorageLocation::Local(_))));
    }

    #[test]
    fn malformed_urls_are_refused_by_name() {
        for (url, expected) in [
            ("files", "not a URL"),
            ("file:///srv/files", "not a file:// URL"),
            ("https://s3.example.com/files", "not a https:// URL"),
            ("s3://", "must name a bucket"),
            ("s3://Files", "must name a bucket"),
            ("s3://ab", "must name a bucket"),
            ("s3://key:secret@files/p", "no user, password"),
            ("s3://files:9000/p", "no user, password, port"),
            ("s3://files/p?x=1", "query"),
            ("s3://files/a//b", "prefix must be plain"),
            ("s3://files/a%20b", "prefix must be plain"),
        ] {
            let error = location(settings(url)).expect_err(url);
            assert!(error.contains(expected), "{url}: {error}");
            assert!(
                !error.contains("secret"),
                "{url}: the URL is not echoed: {error}"
            );
        }
    }

    #[test]
    fn endpoint_and_credentials_are_checked() {
        let secret = SecretString::from("s3cr3t");
        let http = StorageSettings {
            endpoint: Some("http://127.0.0.1:9000/"),
            ..settings("s3://files/p")
        };
        let error = location(http).expect_err("plain http refused");
        assert!(error.contains("STORAGE_S3_ALLOW_HTTP=true"), "{error}");
        let allowed = StorageSettings {
            allow_http: true,
            access_key_id: Some("key"),
            secret_access_key: Some(&secret),
            ..http
        };
        let Ok(StorageLocation::S3(s3)) = location(allowed) else {
            panic!("allowed");
        };
        assert_eq!(s3.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s3.credentials.map(|(key, _)| key).as_deref(), Some("key"));
        let half = StorageSettings {
            access_key_id: Some("key"),
            ..settings("s3://files/p")
        };
        assert!(location(half).expect_err("half").contains("both"));
        let ftp = StorageSettings {
            endpoint: Some("ftp://example.com"),
            ..settings("s3://files/p")
        };
        assert!(location(ftp).expect_err("ftp").contains("not ftp://"));
    }

    #[test]
    fn s3_settings_without_a_storage_url_are_refused() {
        let stray = StorageSettings {
            url: None,
            endpoint: Some("https://s3.example.com"),
            ..settings("")
        };
        let error = location(stray).expect_err("refused");
        assert!(
            error.starts_with("STORAGE_S3_ENDPOINT is set but STORAGE_URL is not"),
            "{error}"
        );
    }
}

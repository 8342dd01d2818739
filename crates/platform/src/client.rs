//! `ClientInfo`: who is calling (IP address and user agent), for audit logs and rate limits,
//! and `TrustedProxies`: which peers may tell us, in `X-Forwarded-For`, who that is.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed, as a request extension; set by each
/// service from its configuration (auth: `TRUSTED_PROXIES`). Without the extension the
/// default applies: a gateway on the same host's loopback.
///
/// Cheap to clone: every request gets a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Trusts no one: the peer is always the client (a service at the edge).
    pub fn none() -> Self {
        Self(Arc::new([]))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is one of the proxies; `::ffff:10.0.0.1` counts as `10.0.0.1`.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address, given the TCP peer and the request headers.
    ///
    /// An untrusted peer is the client and its `X-Forwarded-For` is ignored: anyone can
    /// write one. A trusted peer's chain is read from the right, the end each proxy appends
    /// to, skipping hops that are themselves trusted proxies; the first other hop is the
    /// client. Entries further left were written by whoever that client is, so they are
    /// never believed, and an unparseable entry ends the walk at the last good hop.
    ///
    /// Without a peer (the router called in-process, as handler tests do; every server
    /// built by [`crate::service::serve`] records one) the caller is trusted like a proxy.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer.map(|ip| ip.to_canonical());
        if let Some(peer) = peer
            && !self.contains(peer)
        {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_for_from_right(headers) {
            let Some(hop) = hop else { break };
            client = Some(hop);
            if !self.contains(hop) {
                break;
            }
        }
        client
    }
}

/// A gateway on the same host: `127.0.0.1` and `::1` only. Not all of `127.0.0.0/8`, so
/// local tools (and tests) on other loopback addresses stay distinct clients.
impl Default for TrustedProxies {
    fn default() -> Self {
        "127.0.0.1/32, ::1/128"
            .parse()
            .expect("the default proxies parse")
    }
}

/// A comma-separated list of CIDR ranges or single addresses; empty entries are skipped,
/// so an empty string trusts no one.
impl FromStr for TrustedProxies {
    type Err = InvalidTrustedProxy;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(parse_entry)
            .collect::<Result<Vec<_>, _>>()
            .map(|nets| Self(nets.into()))
    }
}

/// As it would be written in the configuration, e.g. `127.0.0.1/32, ::1/128`.
impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, net) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

/// Names the entry that is not a range, so the operator sees which one to fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{entry}` is not an IP address or CIDR range (like 10.0.0.0/8 or ::1/128)")]
pub struct InvalidTrustedProxy {
    pub entry: String,
}

fn parse_entry(entry: &str) -> Result<IpNet, InvalidTrustedProxy> {
    let net = entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| InvalidTrustedProxy {
            entry: entry.to_owned(),
        })?;
    // Peers are compared in canonical form, so `::ffff:10.0.0.0/104` must become
    // `10.0.0.0/8` or it would match nothing.
    let net = match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(net),
            None => net,
        },
        other => other,
    };
    Ok(net.trunc())
}

/// Every `X-Forwarded-For` entry, all header lines joined, from the right; `None` for an
/// entry that is not a bare IP address (or a line that is not text).
fn forwarded_for_from_right(headers: &HeaderMap) -> impl Iterator<Item = Option<IpAddr>> {
    let lines: Vec<_> = headers.get_all("x-forwarded-for").iter().collect();
    lines
        .into_iter()
        .rev()
        .flat_map(|line| match line.to_str() {
            Ok(text) => text
                .rsplit(',')
                .map(|entry| {
                    entry
                        .trim()
                        .parse::<IpAddr>()
                        .ok()
                        .map(|ip| ip.to_canonical())
                })
                .collect::<Vec<_>>(),
            Err(_) => vec![None],
        })
}

/// The caller's address and user agent (truncated to 512 characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The address as text, for the database's `inet` columns.
    pub fn ip_text(&self) -> Option<String> {
        self.ip.map(|ip| ip.to_string())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip());
        let ip = match parts.extensions.get::<TrustedProxies>() {
            Some(trusted) => trusted.client_address(peer, &parts.headers),
            None => TrustedProxies::default().client_address(peer, &parts.headers),
        };
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|value| value.to_str().ok())
            .map(|agent| agent.chars().take(512).collect());
        Ok(Self { ip, user_agent })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderName, HeaderValue, Request};

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    fn forwarded(lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(line).expect("header value"),
            );
        }
        headers
    }

    fn proxies(raw: &str) -> TrustedProxies {
        raw.parse().expect("valid proxies")
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies("10.0.0.0/8");
        let headers = forwarded(&["9.9.9.9, 10.0.0.5"]);
        assert_eq!(
            trusted.client_address(Some(ip("203.0.113.7")), &headers),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn a_trusted_peer_names_the_rightmost_untrusted_hop() {
        let trusted = proxies("10.0.0.0/8");
        // The client wrote 6.6.6.6 itself; 198.51.100.4 is who connected to our proxy.
        let headers = forwarded(&["6.6.6.6, 198.51.100.4"]);
        assert_eq!(
            trusted.client_address(Some(ip("10.0.0.2")), &headers),
            Some(ip("198.51.100.4"))
        );
    }

    #[test]
    fn trusted_hops_are_skipped_across_header_lines() {
        let trusted = proxies("10.0.0.0/8, 192.168.1.1");
        let headers = forwarded(&["6.6.6.6, 198.51.100.4", "10.1.1.1,192.168.1.1"]);
        assert_eq!(
            trusted.client_address(Some(ip("10.0.0.2")), &headers),
            Some(ip("198.51.100.4"))
        );
    }

    #[test]
    fn a_trusted_peer_without_forwarded_for_is_the_client() {
        let trusted = TrustedProxies::default();
        assert_eq!(
            trusted.client_address(Some(ip("127.0.0.1")), &HeaderMap::new()),
            Some(ip("127.0.0.1"))
        );
    }

    #[test]
    fn a_chain_of_only_trusted_hops_ends_at_its_leftmost() {
        let trusted = proxies("10.0.0.0/8");
        let headers = forwarded(&["10.9.9.9, 10.0.0.3"]);
        assert_eq!(
            trusted.client_address(Some(ip("10.0.0.2")), &headers),
            Some(ip("10.9.9.9"))
        );
    }

    #[test]
    fn a_malformed_entry_stops_the_walk_at_the_last_good_hop() {
        let trusted = proxies("10.0.0.0/8");
        let cases = [
            (forwarded(&["6.6.6.6, not-an-ip"]), "10.0.0.2"),
            (forwarded(&["6.6.6.6, garbage, 10.0.0.3"]), "10.0.0.3"),
            (forwarded(&["6.6.6.6", "1.2.3.4:80"]), "10.0.0.2"),
            (forwarded(&["6.6.6.6, , 10.0.0.3"]), "10.0.0.3"),
        ];
        for (headers, expected) in cases {
            assert_eq!(
                trusted.client_address(Some(ip("10.0.0.2")), &headers),
                Some(ip(expected)),
                "{headers:?}"
            );
        }
        let mut binary = HeaderMap::new();
        binary.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"6.6.6.6, \xff").expect("opaque header"),
        );
        assert_eq!(
            trusted.client_address(Some(ip("10.0.0.2")), &binary),
            Some(ip("10.0.0.2"))
        );
    }

    #[test]
    fn ipv4_mapped_addresses_count_as_ipv4() {
        let trusted = TrustedProxies::default();
        let headers = forwarded(&["::ffff:198.51.100.4"]);
        assert_eq!(
            trusted.client_address(Some(ip("::ffff:127.0.0.1")), &headers),
            Some(ip("198.51.100.4"))
        );
        assert!(proxies("::ffff:10.0.0.0/104").contains(ip("10.200.0.1")));
    }

    #[test]
    fn the_default_trusts_exactly_the_loopback_gateway() {
        let trusted = TrustedProxies::default();
        assert!(trusted.contains(ip("127.0.0.1")));
        assert!(trusted.contains(ip("::1")));
        assert!(
            !trusted.contains(ip("127.0.0.2")),
            "127.0.0.0/8 is too wide"
        );
        assert_eq!(trusted.to_string(), "127.0.0.1/32, ::1/128");
    }

    #[test]
    fn without_a_peer_the_in_process_caller_is_trusted() {
        let headers = forwarded(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(
            TrustedProxies::none().client_address(None, &headers),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            TrustedProxies::none().client_address(None, &HeaderMap::new()),
            None
        );
    }

    #[test]
    fn lists_parse_with_bare_addresses_and_blank_entries() {
        let trusted = proxies(" 10.0.0.0/8 ,, 172.16.0.7 , fd00::/8 ");
        assert_eq!(trusted.to_string(), "10.0.0.0/8, 172.16.0.7/32, fd00::/8");
        assert!(proxies("").is_empty());
        assert_eq!(proxies("10.1.2.3/8").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn a_bad_entry_is_named_in_the_error() {
        let error = "10.0.0.0/8, 10.0.0.300"
            .parse::<TrustedProxies>()
            .unwrap_err();
        assert_eq!(error.entry, "10.0.0.300");
        assert!(error.to_string().contains("`10.0.0.300`"), "{error}");
        assert!("10.0.0.0/33".parse::<TrustedProxies>().is_err());
    }

    async fn extract(request: Request<()>) -> ClientInfo {
        let (mut parts, ()) = request.into_parts();
        let Ok(info) = ClientInfo::from_request_parts(&mut parts, &()).await;
        info
    }

    #[tokio::test]
    async fn the_extractor_uses_the_connection_and_the_extension() {
        let peer: SocketAddr = "127.0.0.1:5000".parse().expect("address");
        let request = || {
            Request::builder()
                .header("x-forwarded-for", "198.51.100.4")
                .header("user-agent", "tests/1.0")
                .extension(ConnectInfo(peer))
        };
        // No extension: the loopback default believes the gateway.
        let info = extract(request().body(()).expect("request")).await;
        assert_eq!(info.ip, Some(ip("198.51.100.4")));
        assert_eq!(info.user_agent.as_deref(), Some("tests/1.0"));
        let info = extract(
            request()
                .extension(TrustedProxies::none())
                .body(())
                .expect("request"),
        )
        .await;
        assert_eq!(info.ip, Some(ip("127.0.0.1")));
    }
}

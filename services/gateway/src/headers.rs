//! Which headers cross the gateway: everything end-to-end, nothing hop-by-hop (RFC 9110
//! §7.6.1), plus the `X-Forwarded-*` headers that tell a service who really called.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Other ways of naming the client's address (`X-Real-IP`, RFC 7239 `Forwarded`): no
/// service reads them today, but from anyone but a trusted proxy they can only be forged.
const OTHER_ADDRESS_HEADERS: [&str; 2] = ["x-real-ip", "forwarded"];

/// Headers that describe one connection, not the message; `Proxy-*` is matched by prefix.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn is_hop_by_hop(name: &HeaderName, listed_in_connection: &[String]) -> bool {
    let name = name.as_str();
    HOP_BY_HOP.contains(&name)
        || name.starts_with("proxy-")
        || listed_in_connection.iter().any(|listed| listed == name)
}

/// `Connection: close, X-Custom` also makes `X-Custom` hop-by-hop.
fn connection_tokens(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

/// A copy of `headers` without the hop-by-hop ones; repeated headers stay repeated.
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let listed = connection_tokens(headers);
    let mut kept = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if !is_hop_by_hop(name, &listed) {
            kept.append(name.clone(), value.clone());
        }
    }
    kept
}

/// What the gateway knows about the connection a request came in on.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// The TCP peer; unknown only when the router runs without a listener.
    pub peer: Option<IpAddr>,
    /// The `Host` (or HTTP/2 authority) the client addressed.
    pub host: Option<&'a str>,
    /// Whether the peer is one of `GATEWAY_TRUSTED_PROXIES`, so the `X-Forwarded-*`
    /// headers already present were written by a proxy we trust, not by the client.
    pub from_trusted_proxy: bool,
}

/// The headers sent upstream. `Host` is dropped so the client addresses the service by its
/// own name. From a trusted proxy the peer is appended to its `X-Forwarded-For` chain and
/// its `-Proto`/`-Host` kept; from anyone else (at the edge, the default) client-supplied
/// values are replaced by the peer's address, so the services, which trust the gateway and
/// read the chain from the right, never take a forged entry for the client.
pub fn to_upstream(incoming: &HeaderMap, arrival: Arrival<'_>) -> HeaderMap {
    let mut outgoing = end_to_end(incoming);
    outgoing.remove(header::HOST);
    // The gateway's server already answered `Expect: 100-continue` when it began reading
    // the body; the service would only announce a second, unwanted interim response.
    outgoing.remove(header::EXPECT);
    // The gateway's own request id (kept from the client or generated) ties the service's
    // logs to its own; naming it in `Connection` must not drop it.
    if let Some(id) = incoming.get(&X_REQUEST_ID) {
        outgoing.insert(X_REQUEST_ID.clone(), id.clone());
    }
    if !arrival.from_trusted_proxy {
        for name in OTHER_ADDRESS_HEADERS {
            outgoing.remove(name);
        }
    }

    let earlier_hops = if arrival.from_trusted_proxy {
        incoming
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .collect::<Vec<_>>()
    } else {
        Vec::new()
    };
    let chain = earlier_hops
        .into_iter()
        .map(str::to_owned)
        .chain(arrival.peer.map(|ip| ip.to_string()))
        .collect::<Vec<_>>()
        .join(", ");
    outgoing.remove(&X_FORWARDED_FOR);
    if let Ok(value) = HeaderValue::from_str(&chain)
        && !chain.is_empty()
    {
        outgoing.insert(X_FORWARDED_FOR.clone(), value);
    }

    let keep_existing =
        |name: &HeaderName| arrival.from_trusted_proxy && incoming.contains_key(name);
    if !keep_existing(&X_FORWARDED_PROTO) {
        // The gateway itself listens on plain HTTP; TLS, if any, ends in front of it.
        outgoing.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
    if !keep_existing(&X_FORWARDED_HOST) {
        outgoing.remove(&X_FORWARDED_HOST);
        if let Some(value) = arrival
            .host
            .and_then(|host| HeaderValue::from_str(host).ok())
        {
            outgoing.insert(X_FORWARDED_HOST.clone(), value);
        }
    }
    outgoing
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn hop_by_hop_and_connection_listed_headers_are_dropped() {
        let kept = end_to_end(&headers(&[
            ("connection", "keep-alive, x-per-hop"),
            ("keep-alive", "timeout=5"),
            ("x-per-hop", "1"),
            ("proxy-authorization", "Basic abc"),
            ("te", "trailers"),
            ("accept", "a"),
            ("accept", "b"),
        ]));
        let names: Vec<_> = kept.keys().map(HeaderName::as_str).collect();
        assert_eq!(names, ["accept"]);
        assert_eq!(kept.get_all("accept").iter().count(), 2);
    }

    #[test]
    fn at_the_edge_forged_forwarding_headers_are_replaced() {
        let incoming = headers(&[
            ("host", "gw.example"),
            ("expect", "100-continue"),
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-proto", "https"),
        ]);
        let arrival = Arrival {
            peer: Some("10.0.0.9".parse().unwrap()),
            host: Some("gw.example"),
            from_trusted_proxy: false,
        };
        let out = to_upstream(&incoming, arrival);
        assert_eq!(out["x-forwarded-for"], "10.0.0.9");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(out["x-forwarded-host"], "gw.example");
        assert!(!out.contains_key("host"));
        assert!(!out.contains_key("expect"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_chain_is_extended() {
        let incoming = headers(&[
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-for", "3.3.3.3"),
            ("x-forwarded-proto", "https"),
        ]);
        let arrival = Arrival {
            peer: Some("10.0.0.9".parse().unwrap()),
            host: None,
            from_trusted_proxy: true,
        };
        let out = to_upstream(&incoming, arrival);
        assert_eq!(
            out["x-forwarded-for"],
            "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9"
        );
        assert_eq!(out["x-forwarded-proto"], "https");
    }
}

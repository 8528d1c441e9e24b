//! The client's address, for throttling: never a client-sent header unless one is configured.
//!
//! In order: the header named by `TRUSTED_CLIENT_IP_HEADER` when set (its last comma-separated
//! entry: the one the trusted proxy in front appended); the API Gateway source IP under Lambda
//! (lambda_http's request context, `requestContext.http.sourceIp`); the peer address of the
//! connection locally (axum `ConnectInfo`, the local server is served with it); else `unknown`.
//! IPv6 addresses count by their /64 prefix (one subscriber usually holds a whole /64).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRef, FromRequestParts},
    http::request::Parts,
};
use lambda_http::{RequestExt, request::RequestContext};

use crate::{AppState, error::ApiError};

/// The caller's address as a throttling key (`203.0.113.9`, `2001:db8:1:2::/64`, `unknown`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddr(pub String);

impl<S> FromRequestParts<S> for ClientAddr
where
    S: Send + Sync,
    AppState: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let state = AppState::from_ref(state);
        Ok(Self(client_addr(
            parts,
            state.config.trusted_client_ip_header.as_deref(),
        )))
    }
}

/// The client address of a request (see the module documentation).
pub fn client_addr(parts: &Parts, trusted_header: Option<&str>) -> String {
    let from_header = trusted_header
        .and_then(|name| parts.headers.get(name))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit(',').next())
        .and_then(|last| last.trim().parse::<IpAddr>().ok());
    let from_gateway = || match parts.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .http
            .source_ip
            .as_deref()
            .and_then(|ip| ip.trim().parse::<IpAddr>().ok()),
        _ => None,
    };
    let from_peer = || {
        parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip())
    };
    match from_header.or_else(from_gateway).or_else(from_peer) {
        Some(ip) => throttle_key(ip),
        None => "unknown".into(),
    }
}

fn throttle_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;

    fn parts(req: Request<()>) -> Parts {
        req.into_parts().0
    }

    #[test]
    fn peer_address_and_ignored_headers() {
        let mut req = Request::builder()
            .header("x-forwarded-for", "1.2.3.4")
            .body(())
            .unwrap_or_default();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));
        let p = parts(req);
        assert_eq!(client_addr(&p, None), "10.0.0.7", "client header ignored");
        assert_eq!(client_addr(&parts(Request::new(())), None), "unknown");
    }

    #[test]
    fn a_configured_header_counts_by_its_last_entry() {
        let mut req = Request::builder()
            .header("x-forwarded-for", "6.6.6.6, 198.51.100.4")
            .body(())
            .unwrap_or_default();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5555))));
        let p = parts(req);
        assert_eq!(client_addr(&p, Some("x-forwarded-for")), "198.51.100.4");
        let garbage = parts(
            Request::builder()
                .header("x-forwarded-for", "not-an-ip")
                .body(())
                .unwrap_or_default(),
        );
        assert_eq!(client_addr(&garbage, Some("x-forwarded-for")), "unknown");
    }

    #[test]
    fn api_gateway_source_ip_and_ipv6_prefixes() {
        let event = serde_json::json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/api/v1/auth/login",
            "rawQueryString": "", "headers": {"x-forwarded-for": "6.6.6.6"},
            "requestContext": {
                "accountId": "123", "apiId": "api", "domainName": "x.example.com",
                "domainPrefix": "x", "requestId": "r", "routeKey": "$default", "stage": "$default",
                "time": "06/Dec/2026:10:00:00 +0000", "timeEpoch": 0,
                "http": {"method": "POST", "path": "/api/v1/auth/login", "protocol": "HTTP/1.1",
                         "sourceIp": "2001:db8:aa:bb:1:2:3:4", "userAgent": "t"}
            },
            "isBase64Encoded": false
        });
        let req =
            lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("{e}"));
        let (p, _) = req.into_parts();
        assert_eq!(client_addr(&p, None), "2001:db8:aa:bb::/64");
        let mapped: IpAddr = "::ffff:192.0.2.1"
            .parse()
            .unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert_eq!(throttle_key(mapped), "192.0.2.1");
    }
}

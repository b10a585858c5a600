//! Where a request comes from: the client's address (behind trusted
//! proxies) and its User-Agent, for throttling, the sessions list and
//! security events.

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, header, request::Parts},
};
use std::net::IpAddr;

use crate::{app::AppState, listener::Peer};

/// Where a request comes from, for the sessions list and security events.
#[derive(Clone, Debug, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(ClientInfo::from_parts(parts, state))
    }
}

impl ClientInfo {
    pub fn from_parts(parts: &Parts, state: &AppState) -> Self {
        let socket = parts.extensions.get::<ConnectInfo<Peer>>().map(|ConnectInfo(Peer(addr))| addr.ip());
        let ip = socket.map(|ip| client_ip(ip, &parts.headers, &state.config.trusted_proxies).to_string());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect());
        ClientInfo { ip, user_agent }
    }
}

/// The client's address: the socket's, unless the socket is a trusted proxy;
/// then the nearest address in `X-Forwarded-For` that is not a trusted proxy
/// itself (everything further left could be made up by the client).
pub fn client_ip(socket: IpAddr, headers: &HeaderMap, trusted: &[ipnet::IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&socket) {
        return socket;
    }
    let forwarded =
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>().join(",");
    let mut nearest = socket;
    for hop in forwarded.split(',').rev().map(str::trim) {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => nearest = ip,
            Ok(ip) => return ip,
            Err(_) => return nearest,
        }
    }
    nearest
}

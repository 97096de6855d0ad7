//! Which of this host's addresses the server sees: the source address the kernel picks for the route to
//! the server (a UDP "connect" sends nothing; it only chooses the route).

use std::net::{IpAddr, ToSocketAddrs, UdpSocket};

/// For `https://HOST:PORT`; None when the host does not resolve or no route exists.
pub fn address_towards(server_url: &str) -> Option<IpAddr> {
    let rest = server_url.strip_prefix("https://")?.trim_end_matches('/');
    let target = rest.to_socket_addrs().ok()?.next()?;
    let bind = if target.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(bind).ok()?;
    socket.connect(target).ok()?;
    Some(socket.local_addr().ok()?.ip())
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_routes_from_loopback() {
        assert_eq!(super::address_towards("https://127.0.0.1:6443"), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(super::address_towards("http://x"), None);
    }
}

//! The DNS server loops: UDP and TCP (two-byte length prefix) on one address, cluster names from the
//! current zone, other names forwarded over UDP to the node's own resolvers (SERVFAIL when none answers).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::watch;

use super::wire::{respond, Reply};
use super::zone::Zone;

/// How long an upstream resolver gets before the next is tried.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);

/// The node's resolvers, as kubelet picks them for dnsPolicy Default: systemd-resolved's real upstreams
/// when it runs (its 127.0.0.53 stub is unreachable from pods), else /etc/resolv.conf.
pub fn node_resolvers() -> Vec<SocketAddr> {
    resolvers_in(&super::resolv_conf::node_resolv_conf())
}

fn resolvers_in(resolv_conf: &str) -> Vec<SocketAddr> {
    resolv_conf
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .filter(|ip| !ip.is_loopback())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect()
}

/// The request relayed to each upstream in turn; the first answer, or None.
async fn forward(upstreams: &[SocketAddr], request: &[u8]) -> Option<Vec<u8>> {
    for upstream in upstreams {
        let bind: SocketAddr = if upstream.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" }.parse().ok()?;
        let Ok(socket) = UdpSocket::bind(bind).await else { continue };
        if socket.send_to(request, upstream).await.is_err() {
            continue;
        }
        let mut buf = vec![0u8; 4096];
        if let Ok(Ok((n, from))) = tokio::time::timeout(UPSTREAM_TIMEOUT, socket.recv_from(&mut buf)).await {
            if from == *upstream && n >= 2 && buf[..2] == request[..2] {
                buf.truncate(n);
                return Some(buf);
            }
        }
    }
    None
}

/// SERVFAIL for a request that could not be forwarded, built from its header alone.
fn servfail(request: &[u8]) -> Vec<u8> {
    let mut reply = request.to_vec();
    if reply.len() >= 12 {
        reply[2] |= 0x80; // QR: a response
        reply[3] = (reply[3] & 0xf0) | 0x82; // RA, RCODE 2 (SERVFAIL)
        reply[6..12].fill(0); // no answer, authority or additional records
    }
    reply
}

async fn answer(zone: &watch::Receiver<Arc<Zone>>, upstreams: &[SocketAddr], request: &[u8]) -> Vec<u8> {
    let reply = respond(&zone.borrow(), request);
    match reply {
        Reply::Answer(bytes) => bytes,
        Reply::Forward => match forward(upstreams, request).await {
            Some(bytes) => bytes,
            None => servfail(request),
        },
    }
}

/// Serve until an error stops a listener.
pub async fn serve(
    address: SocketAddr,
    zone: watch::Receiver<Arc<Zone>>,
    upstreams: Vec<SocketAddr>,
) -> std::io::Result<()> {
    let udp = Arc::new(UdpSocket::bind(address).await?);
    let tcp = TcpListener::bind(address).await?;
    let upstreams = Arc::new(upstreams);
    let (udp_zone, udp_upstreams) = (zone.clone(), upstreams.clone());
    let udp_loop = async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let (n, client) = udp.recv_from(&mut buf).await?;
            let (request, udp, zone, upstreams) =
                (buf[..n].to_vec(), udp.clone(), udp_zone.clone(), udp_upstreams.clone());
            tokio::spawn(async move {
                let reply = answer(&zone, &upstreams, &request).await;
                let _ = udp.send_to(&reply, client).await;
            });
        }
    };
    let tcp_loop = async move {
        loop {
            let (mut stream, _) = tcp.accept().await?;
            let (zone, upstreams) = (zone.clone(), upstreams.clone());
            tokio::spawn(async move {
                // Several queries may come on one connection; it closes after 10 s without one.
                while let Ok(Ok(len)) = tokio::time::timeout(Duration::from_secs(10), stream.read_u16()).await {
                    let mut request = vec![0u8; len as usize];
                    if stream.read_exact(&mut request).await.is_err() {
                        return;
                    }
                    let reply = answer(&zone, &upstreams, &request).await;
                    let Ok(len) = u16::try_from(reply.len()) else { return };
                    if stream.write_u16(len).await.is_err() || stream.write_all(&reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    };
    tokio::select! {
        r = udp_loop => r,
        r = tcp_loop => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolvers_skip_loopback_stubs() {
        let conf = "# generated\nnameserver 127.0.0.53\nnameserver 10.88.0.1\nsearch lab\nnameserver 2001:db8::1\n";
        assert_eq!(resolvers_in(conf), ["10.88.0.1:53".parse().unwrap(), "[2001:db8::1]:53".parse().unwrap()]);
    }

    #[test]
    fn servfail_keeps_the_id_and_question() {
        let request = [0xab, 0xcd, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'c', b'o', b'm', 0, 0, 1, 0, 1];
        let reply = servfail(&request);
        assert_eq!(&reply[..2], &[0xab, 0xcd]);
        assert_eq!(reply[2] & 0x80, 0x80, "a response");
        assert_eq!(reply[3] & 0x0f, 2, "SERVFAIL");
        assert_eq!(&reply[12..], &request[12..]);
    }
}

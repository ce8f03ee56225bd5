//! SSRF guard: which addresses a user-supplied URL may reach.
//!
//! Two enforcement points, so that no request reaches a refused address:
//! - IP-literal URLs (`http://10.0.0.1/`, `http://[::1]/`, `http://2130706433/`) never go through a
//!   DNS resolver in reqwest, so [`check_literal`] checks them before the request is sent.
//! - Host names are resolved by [`GuardedResolver`], which reqwest calls through its `dns_resolver`
//!   hook. It drops every refused address and hands reqwest only the addresses it checked, so the
//!   connection goes to exactly a vetted address (no DNS-rebinding window between check and connect).
//!   A name resolving to a mix of public and refused addresses keeps only the public ones; a name
//!   resolving only to refused addresses is refused.
//!
//! Exceptions ([`super::NetConfig::private_exceptions`]) are exact `ip:port` pairs and apply only to
//! URLs that name that IP literally: the resolver does not know the port it resolves for, so a host
//! name that resolves to a private address is always refused while the guard is on.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Why `ip` must not be reached from a guarded request, or `None` when it is a public address.
///
/// Public so that other parts (the UI's "this area reaches your LAN" hint, tests) classify
/// addresses exactly as the guard does.
pub fn blocked_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => blocked_v4(v4),
        IpAddr::V6(v6) => blocked_v6(v6),
    }
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("unspecified (\"this network\") address")
    } else if ip.is_loopback() {
        Some("loopback address")
    } else if ip.is_private() {
        Some("private network address")
    } else if ip.is_link_local() {
        Some("link-local address (includes cloud metadata endpoints)")
    } else if a == 100 && (b & 0b1100_0000) == 64 {
        Some("carrier-grade NAT address")
    } else if ip.is_broadcast() {
        Some("broadcast address")
    } else if ip.is_multicast() {
        Some("multicast address")
    } else if a >= 240 {
        Some("reserved address")
    } else if a == 192 && b == 0 && c == 0 {
        Some("IETF protocol assignment address")
    } else {
        None
    }
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let seg = ip.segments();
    if ip.is_unspecified() {
        return Some("unspecified address");
    }
    if ip.is_loopback() {
        return Some("loopback address");
    }
    if ip.is_multicast() {
        return Some("multicast address");
    }
    if (seg[0] & 0xfe00) == 0xfc00 {
        return Some("unique local (private) address");
    }
    if (seg[0] & 0xffc0) == 0xfe80 {
        return Some("link-local address");
    }
    if (seg[0] & 0xffc0) == 0xfec0 {
        return Some("site-local address");
    }
    // Addresses that carry an IPv4 address and may be routed to it: IPv4-mapped (::ffff:a.b.c.d),
    // IPv4-compatible (::a.b.c.d, deprecated), and the NAT64 well-known prefix (64:ff9b::/96).
    let embedded = if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if seg[..6] == [0, 0, 0, 0, 0, 0] || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = seg;
        Some(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
    } else {
        None
    };
    embedded.and_then(blocked_v4)
}

/// Checks an IP-literal target. `Err(reason)` when it is refused and not an exception.
pub(crate) fn check_literal(addr: SocketAddr, exceptions: &[SocketAddr]) -> Result<(), String> {
    match blocked_reason(addr.ip()) {
        None => Ok(()),
        Some(_) if exceptions.contains(&addr) => Ok(()),
        Some(reason) => Err(format!("{} is a {reason}", addr.ip())),
    }
}

/// The error [`GuardedResolver`] returns; recognised in reqwest's error chain and turned into
/// [`super::NetError::Refused`].
#[derive(Debug)]
pub(crate) struct GuardRefusal {
    pub host: String,
    pub reason: String,
}

impl std::fmt::Display for GuardRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused to connect to {}: {}", self.host, self.reason)
    }
}

impl std::error::Error for GuardRefusal {}

/// reqwest DNS resolver that resolves with the system resolver and keeps only public addresses.
#[derive(Debug, Default)]
pub(crate) struct GuardedResolver;

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                resolved.into_iter().partition(|a| blocked_reason(a.ip()).is_none());
            if allowed.is_empty() {
                let reason = match refused.first() {
                    Some(first) => format!(
                        "it resolves only to non-public addresses ({} is a {})",
                        first.ip(),
                        blocked_reason(first.ip()).unwrap_or("refused address")
                    ),
                    None => "it resolves to no address".to_owned(),
                };
                return Err(Box::new(GuardRefusal { host, reason }) as Box<dyn std::error::Error + Send + Sync>);
            }
            if !refused.is_empty() {
                tracing::debug!(host = %host, dropped = refused.len(), "SSRF guard dropped non-public addresses");
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn refuses_non_public_ranges() {
        for s in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "255.255.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "192.0.0.170",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(blocked_reason(ip(s)).is_some(), "{s} should be refused");
        }
    }

    #[test]
    fn allows_public_addresses() {
        for s in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "192.0.1.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2001:db8::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(blocked_reason(ip(s)).is_none(), "{s} should be allowed");
        }
    }

    #[test]
    fn literal_exceptions_are_exact_socket_addresses() {
        let allowed: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        assert!(check_literal(allowed, &[allowed]).is_ok());
        assert!(check_literal("127.0.0.1:8081".parse().unwrap(), &[allowed]).is_err());
        assert!(check_literal("127.0.0.2:8080".parse().unwrap(), &[allowed]).is_err());
        assert!(check_literal("8.8.8.8:53".parse().unwrap(), &[]).is_ok());
        let err = check_literal("10.0.0.1:80".parse().unwrap(), &[]).unwrap_err();
        assert!(err.contains("10.0.0.1") && err.contains("private"), "{err}");
    }

    #[tokio::test]
    async fn resolver_refuses_a_name_resolving_to_loopback() {
        let name: Name = "localhost".parse().unwrap();
        let err = match GuardedResolver.resolve(name).await {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        let refusal = err.downcast_ref::<GuardRefusal>().expect("a GuardRefusal");
        assert_eq!(refusal.host, "localhost");
        assert!(refusal.reason.contains("loopback"), "{}", refusal.reason);
    }
}

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

/// IPv4 ranges refused, with the reason shown to the user: every block of IANA's IPv4
/// special-purpose registry that is not globally reachable, plus multicast and the deprecated
/// 6to4 relay anycast. (192.0.0.0/24 is refused whole, including its two anycast services.)
const REFUSED_V4: &[(Ipv4Addr, u8, &str)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8, "unspecified (\"this network\") address"),
    (Ipv4Addr::new(10, 0, 0, 0), 8, "private network address"),
    (Ipv4Addr::new(100, 64, 0, 0), 10, "carrier-grade NAT address"),
    (Ipv4Addr::new(127, 0, 0, 0), 8, "loopback address"),
    (Ipv4Addr::new(169, 254, 0, 0), 16, "link-local address (includes cloud metadata endpoints)"),
    (Ipv4Addr::new(172, 16, 0, 0), 12, "private network address"),
    (Ipv4Addr::new(192, 0, 0, 0), 24, "IETF protocol assignment address"),
    (Ipv4Addr::new(192, 0, 2, 0), 24, "documentation address (TEST-NET-1)"),
    (Ipv4Addr::new(192, 88, 99, 0), 24, "deprecated 6to4 relay address"),
    (Ipv4Addr::new(192, 168, 0, 0), 16, "private network address"),
    (Ipv4Addr::new(198, 18, 0, 0), 15, "benchmarking address"),
    (Ipv4Addr::new(198, 51, 100, 0), 24, "documentation address (TEST-NET-2)"),
    (Ipv4Addr::new(203, 0, 113, 0), 24, "documentation address (TEST-NET-3)"),
    (Ipv4Addr::new(224, 0, 0, 0), 4, "multicast address"),
    (Ipv4Addr::new(255, 255, 255, 255), 32, "broadcast address"),
    (Ipv4Addr::new(240, 0, 0, 0), 4, "reserved address"),
];

/// IPv6 ranges refused outright. Anything outside global unicast (2000::/3) is refused anyway
/// (see [`blocked_v6`]); the entries outside it only give a more precise reason.
const REFUSED_V6: &[(Ipv6Addr, u8, &str)] = &[
    (Ipv6Addr::UNSPECIFIED, 128, "unspecified address"),
    (Ipv6Addr::LOCALHOST, 128, "loopback address"),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, "local-use NAT64 address"),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64, "discard-only address"),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 23, "IETF protocol assignment address (includes Teredo)"),
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32, "documentation address"),
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20, "documentation address"),
    (Ipv6Addr::new(0x5f00, 0, 0, 0, 0, 0, 0, 0), 16, "segment routing (SRv6) address"),
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7, "unique local (private) address"),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, "link-local address"),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, "site-local address"),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, "multicast address"),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

fn blocked_v4(ip: Ipv4Addr) -> Option<&'static str> {
    REFUSED_V4.iter().find(|(net, len, _)| in_v4(ip, *net, *len)).map(|(_, _, reason)| *reason)
}

/// The IPv4 address an IPv6 address stands for, when the network may route it there:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated), the NAT64
/// well-known prefix (`64:ff9b::a.b.c.d`) and 6to4 (`2002:AABB:CCDD::/48`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low32 = Ipv4Addr::from(bits as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if in_v6(ip, Ipv6Addr::UNSPECIFIED, 96) || in_v6(ip, Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96) {
        Some(low32)
    } else if in_v6(ip, Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16) {
        Some(Ipv4Addr::from((bits >> 80) as u32))
    } else {
        None
    }
}

fn blocked_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(reason) = REFUSED_V6.iter().find(|(net, len, _)| in_v6(ip, *net, *len)).map(|(_, _, r)| *r) {
        return Some(reason);
    }
    // An address that carries an IPv4 address is judged by that address.
    if let Some(v4) = embedded_v4(ip) {
        return blocked_v4(v4);
    }
    if !in_v6(ip, Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3) {
        return Some("address outside IPv6 global unicast space");
    }
    None
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
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(blocked_reason(ip(s)).is_none(), "{s} should be allowed");
        }
    }

    /// Every range of IANA's IPv4 and IPv6 special-purpose registries that is not globally
    /// reachable (plus multicast, and the forms that carry an IPv4 address), checked at its first
    /// and last address. Written out independently of the implementation's table on purpose.
    const REFUSED_RANGES: &[(&str, &str, &str)] = &[
        ("0.0.0.0/8", "0.0.0.0", "0.255.255.255"),
        ("10.0.0.0/8", "10.0.0.0", "10.255.255.255"),
        ("100.64.0.0/10 CGNAT", "100.64.0.0", "100.127.255.255"),
        ("127.0.0.0/8", "127.0.0.0", "127.255.255.255"),
        ("169.254.0.0/16", "169.254.0.0", "169.254.255.255"),
        ("172.16.0.0/12", "172.16.0.0", "172.31.255.255"),
        ("192.0.0.0/24", "192.0.0.0", "192.0.0.255"),
        ("192.0.2.0/24 TEST-NET-1", "192.0.2.0", "192.0.2.255"),
        ("192.88.99.0/24 6to4 relay", "192.88.99.0", "192.88.99.255"),
        ("192.168.0.0/16", "192.168.0.0", "192.168.255.255"),
        ("198.18.0.0/15 benchmarking", "198.18.0.0", "198.19.255.255"),
        ("198.51.100.0/24 TEST-NET-2", "198.51.100.0", "198.51.100.255"),
        ("203.0.113.0/24 TEST-NET-3", "203.0.113.0", "203.0.113.255"),
        ("224.0.0.0/4 multicast", "224.0.0.0", "239.255.255.255"),
        ("240.0.0.0/4 reserved + broadcast", "240.0.0.0", "255.255.255.255"),
        ("::/128", "::", "::"),
        ("::1/128", "::1", "::1"),
        ("::/96 IPv4-compatible", "::2", "::ffff:ffff"),
        ("::ffff:0:0/96 mapped, private v4", "::ffff:10.0.0.0", "::ffff:10.255.255.255"),
        ("::ffff:0:0/96 mapped, TEST-NET v4", "::ffff:198.18.0.0", "::ffff:203.0.113.255"),
        ("64:ff9b::/96 NAT64, loopback v4", "64:ff9b::7f00:0", "64:ff9b::7fff:ffff"),
        ("64:ff9b::/96 NAT64, benchmarking v4", "64:ff9b::c612:0", "64:ff9b::c613:ffff"),
        ("64:ff9b:1::/48 local NAT64", "64:ff9b:1::", "64:ff9b:1:ffff:ffff:ffff:ffff:ffff"),
        ("100::/64 discard", "100::", "100::ffff:ffff:ffff:ffff"),
        ("2001::/23 IETF", "2001::", "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2001:db8::/32 documentation", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2002::/16 6to4, private v4", "2002:a00::", "2002:aff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("2002::/16 6to4, loopback v4", "2002:7f00:1::", "2002:7fff:ffff::1"),
        ("2002::/16 6to4, metadata v4", "2002:a9fe:a9fe::", "2002:a9fe:a9fe:ffff::"),
        ("3fff::/20 documentation", "3fff::", "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("5f00::/16 SRv6 SIDs", "5f00::", "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fc00::/7 unique local", "fc00::", "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fe80::/10 link-local", "fe80::", "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("fec0::/10 site-local", "fec0::", "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("ff00::/8 multicast", "ff00::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
        ("outside 2000::/3 (unallocated)", "4000::", "4000::1"),
    ];

    #[test]
    fn refuses_every_special_purpose_range() {
        let missed: Vec<String> = REFUSED_RANGES
            .iter()
            .flat_map(|(range, first, last)| [(range, first), (range, last)])
            .filter(|(_, addr)| blocked_reason(ip(addr)).is_none())
            .map(|(range, addr)| format!("{addr} ({range})"))
            .collect();
        assert!(missed.is_empty(), "not refused: {missed:#?}");
    }

    #[test]
    fn allows_the_public_neighbours_of_refused_ranges() {
        for s in [
            "192.0.1.255",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "::ffff:198.20.0.0",
            "64:ff9b::c614:0",
            "2001:200::",
            "2001:db7:ffff::",
            "2001:db9::",
            "2002:808:808::",
            "2003::",
            "2620:4f:8000::1",
            "3ffe:ffff::",
            "3fff:1000::",
        ] {
            assert_eq!(blocked_reason(ip(s)), None, "{s} should be allowed");
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

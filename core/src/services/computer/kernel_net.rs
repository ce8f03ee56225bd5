//! "Is this computer online?" from the kernel itself, for systems without NetworkManager
//! (systemd-networkd, a hand-made configuration): online means a default route (IPv4 or IPv6)
//! through an interface that is up. The kernel publishes its routing table and interfaces under
//! /proc and /sys (the same facts netlink carries), so reading them needs no privilege and no
//! socket; the folders are settings so tests give their own.

use std::path::{Path, PathBuf};

/// Where the kernel's tables are read from (`/proc` and `/sys`, or a test's folders).
#[derive(Debug, Clone)]
pub struct KernelNet {
    pub proc_dir: PathBuf,
    pub sys_dir: PathBuf,
}

impl Default for KernelNet {
    fn default() -> Self {
        KernelNet { proc_dir: "/proc".into(), sys_dir: "/sys".into() }
    }
}

impl KernelNet {
    /// `Ok(Some(interface))` when a default route goes through an interface that is up,
    /// `Ok(None)` when none does, `Err` when the tables cannot be read.
    pub fn default_route(&self) -> Result<Option<String>, String> {
        let v4 = std::fs::read_to_string(self.proc_dir.join("net/route"));
        let v6 = std::fs::read_to_string(self.proc_dir.join("net/ipv6_route"));
        if let (Err(e), Err(_)) = (&v4, &v6) {
            return Err(format!("the kernel's routing table cannot be read ({e})"));
        }
        let mut interfaces = Vec::new();
        if let Ok(table) = &v4 {
            // Iface Destination Gateway Flags RefCnt Use Metric Mask …; the first line names them.
            for fields in table.lines().skip(1).map(|l| l.split_whitespace().collect::<Vec<_>>()) {
                if fields.len() >= 8 && fields[1] == "00000000" && fields[7] == "00000000" {
                    interfaces.push(fields[0].to_string());
                }
            }
        }
        if let Ok(table) = &v6 {
            // destination, its prefix length, source, its length, next hop, metric, refcnt, use,
            // flags, interface: a default route is ::/0.
            for fields in table.lines().map(|l| l.split_whitespace().collect::<Vec<_>>()) {
                if fields.len() >= 10 && fields[0].bytes().all(|b| b == b'0') && fields[1] == "00" && fields[9] != "lo"
                {
                    interfaces.push(fields[9].to_string());
                }
            }
        }
        Ok(interfaces.into_iter().find(|iface| self.is_up(iface)))
    }

    /// "up", or "unknown" (tunnels and PPP links report no carrier state), counts as up.
    fn is_up(&self, interface: &str) -> bool {
        if interface.contains('/') || interface.starts_with('.') {
            return false;
        }
        let state = std::fs::read_to_string(self.sys_dir.join("class/net").join(interface).join("operstate"));
        matches!(state.as_deref().map(str::trim), Ok("up") | Ok("unknown"))
    }
}

/// The folders from the settings `AREA_COMPUTER_PROC_DIR` / `AREA_COMPUTER_SYS_DIR`.
pub fn from_settings(settings: &crate::settings::Settings) -> KernelNet {
    let folder =
        |key: &str, default: &Path| settings.service(super::ID, key).map(PathBuf::from).unwrap_or(default.into());
    let base = KernelNet::default();
    KernelNet { proc_dir: folder("PROC_DIR", &base.proc_dir), sys_dir: folder("SYS_DIR", &base.sys_dir) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(route: &str, ipv6: &str, up: &[(&str, &str)]) -> (tempfile::TempDir, KernelNet) {
        let dir = tempfile::tempdir().unwrap();
        let net = KernelNet { proc_dir: dir.path().join("proc"), sys_dir: dir.path().join("sys") };
        std::fs::create_dir_all(net.proc_dir.join("net")).unwrap();
        std::fs::write(net.proc_dir.join("net/route"), route).unwrap();
        std::fs::write(net.proc_dir.join("net/ipv6_route"), ipv6).unwrap();
        for (iface, state) in up {
            let d = net.sys_dir.join("class/net").join(iface);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("operstate"), format!("{state}\n")).unwrap();
        }
        (dir, net)
    }

    const HEADER: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n";

    #[test]
    fn online_needs_a_default_route_through_an_interface_that_is_up() {
        let default = format!("{HEADER}eth0\t00000000\t0102A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n");
        let local = format!("{HEADER}eth0\t0002A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n");
        let (_d, net) = tree(&default, "", &[("eth0", "up")]);
        assert_eq!(net.default_route().unwrap().as_deref(), Some("eth0"));
        let (_d, net) = tree(&default, "", &[("eth0", "down")]);
        assert_eq!(net.default_route().unwrap(), None, "the route's interface is down");
        let (_d, net) = tree(&local, "", &[("eth0", "up")]);
        assert_eq!(net.default_route().unwrap(), None, "only the local network");
        let v6 = "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000001 00000000 00000003 wlan0\n";
        let (_d, net) = tree(HEADER, v6, &[("wlan0", "up")]);
        assert_eq!(net.default_route().unwrap().as_deref(), Some("wlan0"), "IPv6 only");
        let missing = KernelNet { proc_dir: "/nonexistent".into(), sys_dir: "/nonexistent".into() };
        assert!(missing.default_route().is_err());
    }
}

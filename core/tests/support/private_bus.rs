//! A private D-Bus message bus (a real `dbus-daemon`) for tests that speak D-Bus: core's device
//! triggers against mock system services, and `area tray` in the CLI's tests (which include this
//! file by path). Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running bus and the address clients connect to.
pub struct PrivateBus {
    child: Child,
    pub address: String,
}

impl PrivateBus {
    /// Starts a session-type bus with its own address.
    pub fn start() -> PrivateBus {
        let mut child = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile", "--print-address=1"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("dbus-daemon (Debian package dbus-daemon; scripts/test.sh installs it)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("the bus's address");
        PrivateBus { child, address: line.trim().to_string() }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

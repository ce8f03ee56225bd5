//! A throwaway PostgreSQL cluster of a test's own, through `scripts/pg-cluster.sh` (shared by
//! core's tests and the CLI's cluster torture test; only std).

#![allow(dead_code)]

use std::path::Path;

/// A throwaway PostgreSQL cluster of a test's own (`scripts/pg-cluster.sh`), stopped and
/// removed when dropped: for tests that stop the server, or need one whatever the run's back end.
pub struct Cluster {
    /// A URL to its `postgres` database.
    pub url: String,
    dir: std::path::PathBuf,
}

fn pg_cluster(args: &[&str]) -> std::process::Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg-cluster.sh");
    std::process::Command::new("bash").arg(script).args(args).output().expect("run scripts/pg-cluster.sh")
}

impl Cluster {
    /// Starts one (Debian's `postgresql` package must be installed: scripts/setup.sh does).
    pub fn start() -> Cluster {
        let out = pg_cluster(&["start"]);
        assert!(
            out.status.success(),
            "cannot start a PostgreSQL cluster (install Debian's postgresql package: scripts/setup.sh): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}='")))
                .and_then(|v| v.strip_suffix('\''))
                .map(str::to_string)
                .unwrap_or_else(|| panic!("pg-cluster.sh printed no {name}: {text}"))
        };
        Cluster { url: var("AREA_TEST_DATABASE_URL"), dir: var("AREA_TEST_PG_DIR").into() }
    }

    /// Stops the server (its data stays).
    pub fn pause(&self) {
        let out = pg_cluster(&["pause", &self.dir.to_string_lossy()]);
        assert!(out.status.success(), "pause: {}", String::from_utf8_lossy(&out.stderr));
    }

    /// Starts it again.
    pub fn resume(&self) {
        let out = pg_cluster(&["resume", &self.dir.to_string_lossy()]);
        assert!(out.status.success(), "resume: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = pg_cluster(&["stop", &self.dir.to_string_lossy()]);
    }
}

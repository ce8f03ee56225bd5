//! Where Area keeps its data, and how files in it are created.
//!
//! One directory holds the SQLite database and the CLI's session file. It defaults to the
//! platform's data directory for "Area" (`~/.local/share/area` on Linux,
//! `~/Library/Application Support/app.Area.Area` on macOS, `%APPDATA%\Area\Area\data` on Windows)
//! so the CLI, the daemon and the desktop app share it; `--data-dir` or `AREA_DATA_DIR` override it.
//!
//! The directory is owner-only (0700; a looser existing one is tightened when the store opens),
//! and the files Area writes there by name (temporary files, probes, markers) are created with
//! [`create_private_file`]: a new file, owner-only, never through a symbolic link planted at
//! that name.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::settings::Settings;

/// The data directory to use: explicit choice (`--data-dir`), else the `AREA_DATA_DIR` setting,
/// else the platform default.
pub fn data_dir(explicit: Option<PathBuf>, settings: &Settings) -> Option<PathBuf> {
    explicit.or_else(|| settings.data_dir()).or_else(default_data_dir)
}

/// The platform's data directory for Area, shared by the CLI, the daemon and the desktop app.
pub fn default_data_dir() -> Option<PathBuf> {
    directories::ProjectDirs::from("app", "Area", "Area").map(|p| p.data_dir().to_path_buf())
}

/// Creates `path` as a new, owner-only (0600) file opened for writing, with `O_EXCL` and
/// `O_NOFOLLOW`, so a symbolic link planted at that name cannot redirect the write to another
/// file. Whatever already sits at `path` (a file left by a crash, or a planted link) is unlinked
/// first — unlinking removes the link itself, never its target — and creation is tried once more.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    match open_new_private(path) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            // Gone already is fine: another process opening the same directory removed it.
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
                _ => {}
            }
            open_new_private(path)
        }
        other => other,
    }
}

/// Writes `bytes` as the whole content of `path` through [`create_private_file`]: for the small
/// state files Area rewrites (`engine.paused`, `webhook.addr`), so a link planted at their name
/// cannot make Area overwrite another file.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut file = create_private_file(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn open_new_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// What [`restrict_dir`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirAccess {
    /// Already owner-only.
    Private,
    /// Was open to group or others (the old mode) and is now 0700.
    Tightened(u32),
}

/// Makes an existing directory owner-only (0700) when group or others have any access to it.
/// Fails, leaving it untouched, when it is clearly not Area's own — a shared directory
/// (world-writable or sticky, like `/tmp`) or one that belongs to another user — or when its
/// mode cannot be changed (a file system without modes); the caller refuses the directory then.
pub fn restrict_dir(dir: &Path) -> io::Result<DirAccess> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = fs::metadata(dir)?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 {
            return Ok(DirAccess::Private);
        }
        if mode & 0o1002 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "it is a shared directory (world-writable or sticky), not one of Area's own",
            ));
        }
        // SAFETY: geteuid has no preconditions and cannot fail.
        if meta.uid() != unsafe { libc::geteuid() } {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "it belongs to another user"));
        }
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))?;
        // Trust the result, not the call: some file systems ignore chmod silently.
        if fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
            return Err(io::Error::new(io::ErrorKind::PermissionDenied, "the file system kept the old mode"));
        }
        Ok(DirAccess::Tightened(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(DirAccess::Private)
    }
}

/// Whether `meta` is a regular file someone may execute (on Windows: any file).
pub fn is_executable(meta: &fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.is_file() && meta.permissions().mode() & 0o111 != 0
    }
    #[cfg(not(unix))]
    {
        meta.is_file()
    }
}

/// The program `name` in the folder this process's program sits in, if it is there and
/// executable: the desktop app and the `area` command are installed side by side and start
/// each other.
pub fn program_beside_this_one(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join(name);
    fs::metadata(&candidate).is_ok_and(|m| is_executable(&m)).then_some(candidate)
}

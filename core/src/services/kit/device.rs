//! What the services that watch or act on the device itself share (folders, programs, opening
//! files): whether this process may touch its machine at all, and paths kept inside the folder
//! the user chose.
//!
//! Decisions:
//! - On a shared server (`area serve`, `area worker`: [`Settings::shared_server`]) the machine is
//!   nobody's own device, so these services are listed as unavailable (areas cannot be saved
//!   with them) and, for areas made before, refuse to act ([`DeviceAccess::check`]).
//! - A path rendered from a template is relative to a folder and made of plain names only:
//!   `.`, `..`, empty names and absolute paths are refused, and no component on the way may be a
//!   symbolic link (so a link planted in the folder cannot lead outside it).

use std::path::{Component, Path, PathBuf};

use crate::catalog::Availability;
use crate::connector::{ConnectorError, Params};
use crate::settings::Settings;

use super::params::{bad_param, req_str};

/// Why device services are unavailable on a shared server, shown in the catalog and errors.
pub const SHARED_SERVER_REASON: &str = "this Area serves several users on a machine that is none of theirs, so it \
                                        does not watch or act on that machine; use the desktop app or `area daemon` \
                                        on your own computer";

/// The availability of a service that works on the device it runs on: `offered` on a personal
/// device, unavailable (with [`SHARED_SERVER_REASON`]) on a shared server.
pub fn on_device(settings: &Settings, offered: Availability) -> Availability {
    if settings.shared_server() {
        Availability::Unavailable(SHARED_SERVER_REASON.into())
    } else {
        offered
    }
}

/// Whether this process may act on its machine, captured when the service is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceAccess {
    shared_server: bool,
}

impl DeviceAccess {
    /// What `settings` allow ([`Settings::shared_server`]).
    pub fn from_settings(settings: &Settings) -> Self {
        DeviceAccess { shared_server: settings.shared_server() }
    }

    /// Refuses on a shared server, for areas saved before the data moved to one.
    pub fn check(&self, service: &str) -> Result<(), ConnectorError> {
        if self.shared_server {
            return Err(ConnectorError::BadResponse {
                service: service.to_string(),
                message: format!("unavailable here: {SHARED_SERVER_REASON}"),
            });
        }
        Ok(())
    }
}

/// A folder parameter: an absolute path to an existing folder.
pub fn folder_param(params: &Params, id: &str) -> Result<PathBuf, ConnectorError> {
    let raw = req_str(params, id)?;
    let path = Path::new(raw);
    if !path.is_absolute() {
        return Err(bad_param(id, format!("{raw:?} is not an absolute path: name the folder from the root (/home/…)")));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => Ok(path.to_path_buf()),
        Ok(_) => Err(bad_param(id, format!("{raw} is not a folder"))),
        Err(e) => Err(bad_param(id, format!("the folder {raw} cannot be read ({e})"))),
    }
}

/// `relative` (a rendered template) as a path inside `folder`, made of plain names only, with no
/// symbolic link on the way; with `create_dirs` the missing subfolders are created. The last
/// component is returned as it is (the caller opens it without following a link).
pub fn path_in_folder(folder: &Path, relative: &str, id: &str, create_dirs: bool) -> Result<PathBuf, ConnectorError> {
    let rel = Path::new(relative);
    let mut names = Vec::new();
    for component in rel.components() {
        match component {
            Component::Normal(name) => names.push(name),
            Component::CurDir | Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(bad_param(
                    id,
                    format!("{relative:?} must stay inside the folder: plain names only, no `.`, `..` or leading `/`"),
                ))
            }
        }
    }
    if names.is_empty() || relative.ends_with('/') || relative.contains("//") {
        return Err(bad_param(id, format!("{relative:?} is not a file name")));
    }
    let mut path = folder.to_path_buf();
    let last = names.len() - 1;
    for (i, name) in names.into_iter().enumerate() {
        path.push(name);
        if i == last {
            break;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(bad_param(
                    id,
                    format!("{} is a symbolic link; Area does not follow links out of the folder", path.display()),
                ))
            }
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Err(bad_param(id, format!("{} is a file, not a folder", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create_dirs => {
                std::fs::create_dir(&path)
                    .map_err(|e| bad_param(id, format!("cannot create the folder {} ({e})", path.display())))?;
            }
            Err(e) => return Err(bad_param(id, format!("cannot read {} ({e})", path.display()))),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        assert_eq!(path_in_folder(base, "a/b.txt", "f", true).unwrap(), base.join("a/b.txt"));
        assert!(base.join("a").is_dir());
        for bad in ["../x", "a/../../x", "/etc/passwd", "./x", "", "a/", "a//b"] {
            assert!(path_in_folder(base, bad, "f", true).is_err(), "{bad:?}");
        }
        #[cfg(unix)]
        {
            let outside = tempfile::tempdir().unwrap();
            std::os::unix::fs::symlink(outside.path(), base.join("link")).unwrap();
            assert!(path_in_folder(base, "link/x.txt", "f", true).is_err());
            assert!(path_in_folder(base, "link/new/x.txt", "f", true).is_err());
            assert!(!outside.path().join("new").exists());
        }
    }

    #[test]
    fn a_shared_server_refuses_device_services() {
        let shared = Settings::from_pairs([(crate::settings::SHARED_SERVER, "1")]);
        assert!(matches!(on_device(&shared, Availability::Available), Availability::Unavailable(_)));
        assert!(DeviceAccess::from_settings(&shared).check("files").is_err());
        assert_eq!(on_device(&Settings::empty(), Availability::Available), Availability::Available);
        assert!(DeviceAccess::from_settings(&Settings::empty()).check("files").is_ok());
    }
}

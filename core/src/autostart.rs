//! Starting Area when the user logs in, so automations do not stop after a reboot until the
//! app is opened: one XDG autostart entry (`$XDG_CONFIG_HOME/autostart/area.desktop`), the file
//! desktop sessions (GNOME, KDE, XFCE, …) read at login. Off until the user turns it on.
//!
//! The entry's `Exec` line follows the Desktop Entry Specification, "The Exec key": each argument
//! that holds a reserved character is double-quoted, with `"`, `` ` ``, `$` and `\` escaped inside
//! the quotes; `%` is doubled (it starts field codes); and the key-file rule for string values
//! doubles every backslash once more. A data directory such as `/home/ada/My $HOME "x"` is
//! therefore passed to Area exactly, never split or expanded by the session.

use std::io;
use std::path::{Path, PathBuf};

/// The entry's file name in the autostart directory.
pub const ENTRY_FILE: &str = "area.desktop";

/// Why the entry could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AutostartError {
    #[error(
        "starting at login is only supported on Linux desktops (XDG autostart) so far; use your system's own \
         login items to start `area daemon`"
    )]
    Unsupported,
    #[error("no configuration directory was found for the autostart entry: set HOME (or XDG_CONFIG_HOME)")]
    NoConfigDir,
    #[error("an argument of the login command holds a line break, which a desktop entry cannot carry: {0:?}")]
    LineBreak(String),
    #[error("cannot write the autostart entry {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// What the login session starts: a program and its arguments, exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
}

/// The autostart directory of this user's desktop sessions (`$XDG_CONFIG_HOME/autostart`, by
/// default `~/.config/autostart`); read once by the shell at startup and passed down.
pub fn default_dir() -> Result<PathBuf, AutostartError> {
    if !cfg!(target_os = "linux") {
        return Err(AutostartError::Unsupported);
    }
    directories::BaseDirs::new().map(|d| d.config_dir().join("autostart")).ok_or(AutostartError::NoConfigDir)
}

/// The desktop entry that starts `launch` at login.
pub fn desktop_entry(launch: &Launch) -> Result<String, AutostartError> {
    let mut words = vec![launch.program.to_string_lossy().into_owned()];
    words.extend(launch.args.iter().cloned());
    let exec = words.iter().map(|w| exec_word(w)).collect::<Result<Vec<_>, _>>()?.join(" ");
    Ok(format!(
        "[Desktop Entry]\nType=Application\nName=Area\nComment=Your automations, running from login\n\
         Exec={exec}\nTerminal=false\nX-GNOME-Autostart-enabled=true\n"
    ))
}

/// Writes the entry (replacing any earlier one); returns its path.
pub fn enable(dir: &Path, launch: &Launch) -> Result<PathBuf, AutostartError> {
    let entry = desktop_entry(launch)?;
    let path = dir.join(ENTRY_FILE);
    let io = |source| AutostartError::Io { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(io)?;
    // Written aside and renamed, so a session reading at that moment sees the old or new entry.
    let partial = dir.join(format!(".{ENTRY_FILE}.tmp"));
    std::fs::write(&partial, entry).map_err(io)?;
    std::fs::rename(&partial, &path).map_err(io)?;
    Ok(path)
}

/// Removes the entry; false when there was none.
pub fn disable(dir: &Path) -> Result<bool, AutostartError> {
    let path = dir.join(ENTRY_FILE);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(AutostartError::Io { path, source }),
    }
}

/// The command the entry starts at login, read back from its `Exec` line; `None` when there
/// is no entry.
pub fn current(dir: &Path) -> Result<Option<Vec<String>>, AutostartError> {
    let path = dir.join(ENTRY_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(AutostartError::Io { path, source }),
    };
    Ok(text.lines().find_map(|line| line.strip_prefix("Exec=")).map(parse_exec))
}

/// Characters that make an argument need quotes in an `Exec` line.
const RESERVED: &[char] =
    &[' ', '\t', '"', '\'', '\\', '>', '<', '~', '|', '&', ';', '$', '*', '?', '#', '(', ')', '`'];

/// One argument as the `Exec` key carries it (quoted when needed, `%` doubled, then the
/// key-file escaping of backslashes).
fn exec_word(word: &str) -> Result<String, AutostartError> {
    if word.contains(['\n', '\r']) {
        return Err(AutostartError::LineBreak(word.to_string()));
    }
    let quoted = if word.is_empty() || word.contains(RESERVED) {
        let mut q = String::from("\"");
        for c in word.chars() {
            if matches!(c, '"' | '`' | '$' | '\\') {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        word.to_string()
    };
    Ok(quoted.replace('%', "%%").replace('\\', "\\\\"))
}

/// An `Exec` value split back into its arguments (the reverse of [`exec_word`], as a desktop
/// session reads it).
pub fn parse_exec(value: &str) -> Vec<String> {
    // The key-file level first: `\\` is one backslash (other escapes do not occur here).
    let value = value.replace("\\\\", "\\");
    let mut words = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.peek() == Some(&' ') {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut word = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => word.extend(chars.next()),
                    c => word.push(c),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c == ' ' {
                    break;
                }
                word.push(c);
                chars.next();
            }
        }
        words.push(word.replace("%%", "%"));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch(program: &str, args: &[&str]) -> Launch {
        Launch { program: program.into(), args: args.iter().map(|a| a.to_string()).collect() }
    }

    #[test]
    fn plain_arguments_are_left_as_they_are() {
        let entry = desktop_entry(&launch("/usr/bin/area", &["daemon"])).unwrap();
        assert!(entry.contains("\nExec=/usr/bin/area daemon\n"), "{entry}");
        assert!(entry.starts_with("[Desktop Entry]\nType=Application\n"), "{entry}");
    }

    #[test]
    fn arguments_with_reserved_characters_come_back_exactly() {
        let tricky =
            ["/home/ada/My Data", "/tmp/$HOME/`id`", "quote \" inside", r"back\slash", "100%", "semi;colon&amp", ""];
        let entry = desktop_entry(&launch("/opt/Area App/area", &tricky)).unwrap();
        let exec = entry.lines().find_map(|l| l.strip_prefix("Exec=")).unwrap();
        let mut expected = vec!["/opt/Area App/area".to_string()];
        expected.extend(tricky.iter().map(|s| s.to_string()));
        assert_eq!(parse_exec(exec), expected, "{exec}");
        // As the specification spells it: a literal backslash is four in the file, % is %%.
        assert!(exec.contains(r#""back\\\\slash""#), "{exec}");
        assert!(exec.contains("100%%"), "{exec}");
        assert!(exec.contains(r#""/tmp/\\$HOME/\\`id\\`""#), "{exec}");
    }

    #[test]
    fn a_line_break_in_an_argument_is_refused() {
        let err = desktop_entry(&launch("/usr/bin/area", &["--data-dir", "/tmp/a\nExec=evil"])).unwrap_err();
        assert!(matches!(err, AutostartError::LineBreak(_)), "{err}");
    }

    #[test]
    fn enable_current_and_disable_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let autostart = dir.path().join("autostart");
        assert_eq!(current(&autostart).unwrap(), None);
        let path = enable(&autostart, &launch("/usr/bin/area", &["--data-dir", "/srv/my area", "daemon"])).unwrap();
        assert_eq!(path, autostart.join(ENTRY_FILE));
        assert_eq!(current(&autostart).unwrap().unwrap(), ["/usr/bin/area", "--data-dir", "/srv/my area", "daemon"]);
        assert!(disable(&autostart).unwrap());
        assert!(!disable(&autostart).unwrap(), "nothing left to remove");
        assert_eq!(current(&autostart).unwrap(), None);
    }
}

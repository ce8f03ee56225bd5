//! `computer`: this computer — triggers on its own state ([`triggers`]: network, battery,
//! charger, session, wake-up, read over D-Bus by [`bus`]), and reactions that act on it: open a
//! web page or a file with its default application, or run a program the user chose. No account,
//! no network.
//!
//! Decisions:
//! - Opening goes through the platform's opener (`xdg-open`, `open`, `explorer`; the setting
//!   `AREA_COMPUTER_OPENER` names another, e.g. in tests). What is opened is an `http(s)` URL or
//!   an existing file given by its absolute path; files that would *run* rather than open
//!   (executable, or a launcher type such as `.desktop`, `.sh`, `.exe`) are refused, so an
//!   ingredient naming a downloaded file cannot start it.
//! - Running a program needs the area's explicit permission: its `allow` parameter is a consent
//!   ([`ParamSpec::consent`]), so the area cannot be saved without it ticked next to the exact
//!   program and arguments, and a shared area file that sets it is refused unless the user
//!   grants it on import.
//! - The program is an absolute path and never a shell (or `env`, `sudo`…): arguments are
//!   passed as a list, one per line of `arguments`, rendered as [`TextContext::ArgumentLines`],
//!   so an ingredient can fill an argument, never add one. Long or multi-line text goes to the
//!   program's standard input.
//! - The program gets a clean environment (the session's display, language, home and `PATH`;
//!   never Area's own settings, which may hold keys), runs at most [`RUN_TIMEOUT`] and is killed
//!   after that; its exit status decides the run, and the first line of its output (or of its
//!   errors) is the run's summary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::services::kit::prelude::*;

pub mod bus;
pub mod clipboard;
pub mod kernel_net;
pub mod triggers;

use triggers::{DeviceState, Resumed, Watched};

/// The service id, as used in area files.
pub const ID: &str = "computer";
/// Longest a program may run before it is killed (below the engine's reaction timeout).
pub const RUN_TIMEOUT: Duration = Duration::from_secs(50);
/// Most bytes of a program's output or errors kept.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// How long the opener may take to hand over before Area stops waiting for its exit status.
pub const OPENER_WAIT: Duration = Duration::from_secs(5);

/// Program names that are command interpreters or run another program with other rights:
/// running them would let the arguments be code.
pub const REFUSED_PROGRAMS: &[&str] = &[
    "sh",
    "bash",
    "dash",
    "zsh",
    "ksh",
    "mksh",
    "ash",
    "fish",
    "csh",
    "tcsh",
    "nu",
    "elvish",
    "xonsh",
    "busybox",
    "env",
    "sudo",
    "doas",
    "su",
    "pkexec",
    "runuser",
    "setsid",
    "nohup",
    "xargs",
    "cmd",
    "powershell",
    "pwsh",
];

/// Extensions of files that run when "opened".
const LAUNCHER_EXTENSIONS: &[&str] = &[
    "desktop", "sh", "bash", "zsh", "command", "run", "bin", "appimage", "exe", "com", "bat", "cmd", "msi", "ps1",
    "vbs", "js", "jar", "scr", "app", "py", "pl", "rb",
];

/// Environment variables a program inherits (the session it shows on); nothing else.
const INHERITED_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP",
    "DBUS_SESSION_BUS_ADDRESS",
];

/// The `computer` service: its device triggers and the `open`, `copy` and `run_program`
/// reactions.
pub fn service(settings: &Settings) -> Service {
    let access = DeviceAccess::from_settings(settings);
    // The session's environment is read once, here, like every setting.
    let env: Vec<(String, String)> =
        INHERITED_ENV.iter().filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v))).collect();
    let opener = settings.service(ID, "OPENER").map(PathBuf::from).unwrap_or_else(default_opener);
    let mut reactions = BTreeMap::new();
    reactions.insert("open", Arc::new(Open { access, opener, env: env.clone() }) as Arc<dyn Reaction>);
    reactions.insert("run_program", Arc::new(RunProgram { access, env }) as Arc<dyn Reaction>);
    reactions.insert("copy", Arc::new(clipboard::Copy { access }) as Arc<dyn Reaction>);
    let bus = Arc::new(bus::Bus::new(settings.service(ID, "SYSTEM_BUS").map(str::to_string)));
    let mut actions = BTreeMap::new();
    for (id, watched) in [
        ("network", Watched::Network),
        ("battery_low", Watched::BatteryLow),
        ("charger", Watched::Charger),
        ("unlocked", Watched::Unlocked),
    ] {
        let trigger = DeviceState { watched, bus: bus.clone(), access, kernel: kernel_net::from_settings(settings) };
        actions.insert(id, ActionKind::Fetched(Arc::new(trigger) as Arc<dyn FetchedAction>));
    }
    actions.insert("resumed", ActionKind::Fetched(Arc::new(Resumed { access }) as Arc<dyn FetchedAction>));
    Service::new(manifest(settings), actions, reactions)
}

fn default_opener() -> PathBuf {
    PathBuf::from(if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    })
}

fn manifest(settings: &Settings) -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "This computer",
        description: "The computer Area runs on: react when its network, battery, charger or session changes or it \
                      wakes from sleep; open a page or a file, copy text to the clipboard, or run a program you \
                      chose.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: on_device(settings, Availability::Available),
        actions: triggers::manifests(),
        reactions: vec![
            ReactionManifest {
                id: "open",
                name: "Open a page or a file",
                description: "Opens a web page in your browser, or a file with its default application. Programs \
                              and launchers are never opened.",
                params: vec![ParamSpec::new(
                    "target",
                    "Page or file",
                    "An https:// address or a file's full path; may use ingredients, e.g. {{ link }} or {{ path }}.",
                    ParamType::String,
                )
                .templated()],
            },
            ReactionManifest {
                id: "copy",
                name: "Copy text to the clipboard",
                description: "Puts the text on this computer's clipboard, ready to paste (Linux desktops; at most \
                              1 MiB).",
                params: vec![ParamSpec::new(
                    "text",
                    "Text",
                    "What to copy; may use ingredients, e.g. {{ link }} or a code from a message.",
                    ParamType::String,
                )
                .templated()],
            },
            ReactionManifest {
                id: "run_program",
                name: "Run a program",
                description: "Runs a program with the arguments you list, never through a shell. Ingredients can fill \
                              an argument but never add one; longer text can go to the program's input.",
                params: vec![
                    ParamSpec::new(
                        "program",
                        "Program",
                        "The program's full path, e.g. /usr/bin/notify-send. Shells are refused.",
                        ParamType::String,
                    ),
                    ParamSpec::new(
                        "arguments",
                        "Arguments, one per line",
                        "Each line is one argument (an empty line is an empty argument); may use ingredients, e.g. {{ title }}.",
                        ParamType::String,
                    )
                    .optional(Some(json!("")))
                    .templated_as(TextContext::ArgumentLines),
                    ParamSpec::new(
                        "input",
                        "Input",
                        "Text sent to the program's standard input; may use ingredients.",
                        ParamType::String,
                    )
                    .optional(Some(json!("")))
                    .templated(),
                    ParamSpec::new(
                        "allow",
                        "Allow this area to run this program",
                        "Check the program and its arguments above: the area runs exactly that, with your rights.",
                        ParamType::Boolean,
                    )
                    .optional(Some(json!(false)))
                    .consent(),
                ],
            },
        ],
    }
}

/// Why a program cannot be run, or `None`.
pub fn refuse_program(program: &str) -> Option<String> {
    let path = Path::new(program);
    if !path.is_absolute() {
        return Some(format!("{program:?} is not a full path: name the program from the root, e.g. /usr/bin/…"));
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    let stem = name.strip_suffix(".exe").unwrap_or(&name);
    if REFUSED_PROGRAMS.contains(&stem) {
        return Some(format!(
            "{name} is a shell or runs other programs: Area runs one program with a list of arguments, never a \
             command line; name the program itself"
        ));
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() && crate::paths::is_executable(&meta) => None,
        Ok(_) => Some(format!("{program} is not an executable file")),
        Err(e) => Some(format!("{program} cannot be found ({e})")),
    }
}

/// `run_program`: see the module doc.
struct RunProgram {
    access: DeviceAccess,
    env: Vec<(String, String)>,
}

#[async_trait]
impl Reaction for RunProgram {
    /// A program's effects are its own; running it twice may not be harmless.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, _ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        self.access.check(ID)?;
        if opt_bool(params, "allow")? != Some(true) {
            return Err(bad_param("allow", "this area has not been allowed to run a program: check it and allow it"));
        }
        let program = req_str(params, "program")?;
        if let Some(reason) = refuse_program(program) {
            return Err(bad_param("program", reason));
        }
        let arguments = argument_list(params.get("arguments").and_then(Value::as_str).unwrap_or(""));
        let input = params.get("input").and_then(Value::as_str).unwrap_or("").to_string();
        let mut command = clean_command(program, &self.env);
        command.args(&arguments).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).kill_on_drop(true);
        if let Some((_, home)) = self.env.iter().find(|(k, _)| k == "HOME") {
            command.current_dir(home);
        }
        let mut child = command.spawn().map_err(|e| failed(format!("{program} could not be started ({e})")))?;
        let (Some(mut stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(failed("the program's input and output could not be connected".into()));
        };
        let work = async {
            let feed = async move {
                // A program that does not read its input closes it early: not an error.
                let _ = stdin.write_all(input.as_bytes()).await;
                drop(stdin);
            };
            let (_, out, err, status) = tokio::join!(feed, read_capped(stdout), read_capped(stderr), child.wait());
            (out, err, status)
        };
        let (out, err, status) = tokio::time::timeout(RUN_TIMEOUT, work)
            .await
            .map_err(|_| failed(format!("{program} ran longer than {} s and was stopped", RUN_TIMEOUT.as_secs())))?;
        let status = status.map_err(|e| failed(format!("waiting for {program} failed ({e})")))?;
        let name = Path::new(program).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if status.success() {
            let said = first_line(&out);
            let summary = if said.is_empty() { format!("{name} exited 0") } else { format!("{name} exited 0: {said}") };
            Ok(ReactionOutput { summary })
        } else {
            let code = status.code().map(|c| c.to_string()).unwrap_or_else(|| "a signal".into());
            let said = first_line(if err.trim().is_empty() { &out } else { &err });
            Err(failed(format!("{name} exited with {code}: {said}")))
        }
    }
}

/// `program` with only the session's environment (`env`, from [`INHERITED_ENV`]): never Area's
/// own settings, which may hold keys.
fn clean_command(program: impl AsRef<std::ffi::OsStr>, env: &[(String, String)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(program);
    command.env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    command
}

/// The rendered `arguments` as a list: every line is one argument, an empty line an empty
/// argument (an ingredient that renders empty must not shift the arguments after it); only the
/// last line break ends the list rather than starting an argument.
pub fn argument_list(rendered: &str) -> Vec<&str> {
    if rendered.is_empty() {
        return Vec::new();
    }
    let body = rendered.strip_suffix('\n').unwrap_or(rendered);
    body.split('\n').map(|line| line.strip_suffix('\r').unwrap_or(line)).collect()
}

/// Reads at most [`MAX_OUTPUT`] bytes, then drains the rest so the program is never blocked.
async fn read_capped(mut reader: impl tokio::io::AsyncRead + Unpin) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(n) = reader.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = MAX_OUTPUT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    String::from_utf8_lossy(&kept).into_owned()
}

fn first_line(text: &str) -> String {
    truncate_chars(text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or(""), 200)
}

fn failed(message: String) -> ConnectorError {
    ConnectorError::BadResponse { service: ID.into(), message }
}

/// `open`: see the module doc.
struct Open {
    access: DeviceAccess,
    opener: PathBuf,
    env: Vec<(String, String)>,
}

/// What `target` names, once checked: a web address or a file that opens (never runs).
fn openable(target: &str) -> Result<String, ConnectorError> {
    let target = target.trim();
    if target.starts_with("http://") || target.starts_with("https://") {
        let url = url::Url::parse(target).map_err(|e| bad_param("target", format!("not a valid address ({e})")))?;
        return Ok(url.to_string());
    }
    let path = Path::new(target);
    if !path.is_absolute() {
        return Err(bad_param("target", "give an http(s) address or a file's full path"));
    }
    let meta = std::fs::metadata(path).map_err(|e| bad_param("target", format!("{target} cannot be opened ({e})")))?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !meta.is_file() || crate::paths::is_executable(&meta) || LAUNCHER_EXTENSIONS.contains(&extension.as_str()) {
        return Err(bad_param(
            "target",
            format!("{target} is a program or launcher, not a document: Area opens documents and pages only"),
        ));
    }
    Ok(path.to_string_lossy().into_owned())
}

#[async_trait]
impl Reaction for Open {
    /// Opening twice shows the page twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, _ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        self.access.check(ID)?;
        let target = openable(req_str(params, "target")?)?;
        let mut child = clean_command(&self.opener, &self.env)
            .arg(&target)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| failed(format!("the opener {} could not be started ({e})", self.opener.display())))?;
        match tokio::time::timeout(OPENER_WAIT, child.wait()).await {
            Ok(Ok(status)) if !status.success() => {
                Err(failed(format!("the opener {} could not open it ({status})", self.opener.display())))
            }
            Ok(Err(e)) => Err(failed(format!("waiting for the opener failed ({e})"))),
            Ok(Ok(_)) => Ok(ReactionOutput { summary: "opened".into() }),
            // Some openers stay until the application closes: let it be, and reap it later.
            Err(_) => {
                tokio::spawn(async move {
                    let _ = child.wait().await;
                });
                Ok(ReactionOutput { summary: "opened".into() })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shells_and_relative_programs_are_refused() {
        for shell in ["/bin/sh", "/usr/bin/bash", "/usr/bin/env", "/usr/bin/sudo", "/opt/x/zsh", "C:/pwsh.exe"] {
            assert!(refuse_program(shell).is_some(), "{shell}");
        }
        assert!(refuse_program("true").is_some());
        assert!(refuse_program("/no/such/program").is_some());
    }

    #[test]
    fn each_line_is_one_argument_even_when_empty() {
        assert_eq!(argument_list("--name\n\n1\n"), ["--name", "", "1"]);
        assert_eq!(argument_list("a\r\nb"), ["a", "b"]);
        assert!(argument_list("").is_empty());
    }

    #[test]
    fn launchers_are_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("report.pdf");
        std::fs::write(&doc, "%PDF").unwrap();
        let launcher = dir.path().join("evil.desktop");
        std::fs::write(&launcher, "[Desktop Entry]").unwrap();
        assert_eq!(openable(doc.to_str().unwrap()).unwrap(), doc.to_str().unwrap());
        assert!(openable(launcher.to_str().unwrap()).is_err());
        assert!(openable("javascript:alert(1)").is_err());
        assert!(openable("file:///etc/passwd").is_err());
        assert!(openable("https://example.com/a b").is_ok());
    }
}

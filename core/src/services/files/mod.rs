//! `files`: a folder on this device — a file appears or changes in it (trigger), or text is
//! written or appended to a file in it (reaction). No account, no network.
//!
//! Decisions:
//! - The trigger reads the folder itself (a fetched action): each check lists the files whose
//!   name matches the pattern (recursively on request, never following links, at most
//!   [`MAX_FILES`]) with their size and modification time. The event key is the path with that
//!   signature, so each change fires once; the engine's baseline makes the files already there
//!   when the area is switched on fire nothing.
//! - Debounce: a file modified less than `settle_secs` ago is left for a later check, so a file
//!   still being copied or downloaded fires once, when it is complete.
//! - "New files only" keeps, in the cursor, the signature each file had when first seen, so later
//!   edits of the same file do not fire again; a file deleted and created again is new.
//! - Between checks, [`FetchedAction::wait_for_change`] has the operating system watch the
//!   folder ([`changes`]) and lists it only when something changed there, asking for a check as
//!   soon as a settled file differs from the cursor: a dropped file fires within seconds instead
//!   of at the area's interval, and an idle folder costs no work. A folder that cannot be
//!   watched is listed every [`WATCH_EVERY`] instead.
//! - Patterns are shell-like: `*` and `?` within a name, `**` across folders, `{jpg,png}`
//!   alternatives, `[abc]` sets. As in a shell, `*` does not match a leading `.`: hidden files
//!   and most partial downloads (`.name.part`) are ignored unless the pattern starts with `.`.
//! - The reaction writes only inside its folder ([`path_in_folder`]): the file name is rendered
//!   as [`TextContext::FileName`], so an ingredient cannot add a folder, and the file itself is
//!   opened without following a link. Appending adds a line break after the text when it has
//!   none, so each event is one line of a log.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde_json::{json, Map, Value};

use crate::services::kit::prelude::*;

mod changes;

/// The service id, as used in area files.
pub const ID: &str = "files";
/// Most files one check lists; a folder with more is refused with advice to narrow the pattern.
pub const MAX_FILES: usize = 10_000;
/// Deepest subfolder a recursive check enters.
pub const MAX_DEPTH: usize = 16;
/// How often [`FetchedAction::wait_for_change`] lists the folder between checks at most: while
/// a change settles, or always when the folder cannot be watched.
pub const WATCH_EVERY: Duration = Duration::from_secs(1);
/// Default of `settle_secs`.
pub const DEFAULT_SETTLE_SECS: i64 = 2;

/// The `files` service: the `changed` action and the `write` reaction.
pub fn service(settings: &Settings) -> Service {
    let access = DeviceAccess::from_settings(settings);
    let mut actions = BTreeMap::new();
    actions.insert("changed", ActionKind::Fetched(Arc::new(FileChanged { access }) as Arc<dyn FetchedAction>));
    let mut reactions = BTreeMap::new();
    reactions.insert("write", Arc::new(WriteFile { access }) as Arc<dyn Reaction>);
    Service::new(manifest(settings), actions, reactions)
}

fn manifest(settings: &Settings) -> ServiceManifest {
    ServiceManifest {
        id: ID,
        name: "Files",
        description: "A folder on this computer: react when a file appears or changes in it, or write what happened \
                      into a file. Works without an account or a network.",
        auth: AuthKind::None,
        credential_hosts: vec![],
        oauth: None,
        availability: on_device(settings, Availability::Available),
        actions: vec![ActionManifest {
            id: "changed",
            name: "A file appears or changes in a folder",
            description: "Fires once for each new file (or each change, if you choose) whose name matches the \
                          pattern, after the file has stopped changing. Files already there when the area is \
                          switched on do not fire.",
            params: vec![
                ParamSpec::new("folder", "Folder", "The folder to watch, e.g. /home/ada/Downloads.", ParamType::String),
                ParamSpec::new(
                    "pattern",
                    "File names",
                    "Which files count: * for all, *.pdf, invoice-*.{pdf,png}; **/*.jpg with subfolders.",
                    ParamType::String,
                )
                .optional(Some(json!("*"))),
                ParamSpec::new(
                    "recursive",
                    "Include subfolders",
                    "Also watch the folders inside it.",
                    ParamType::Boolean,
                )
                .optional(Some(json!(false))),
                ParamSpec::new(
                    "fire_on",
                    "Fire on",
                    "new: only files that appear; new_or_changed: also when a file is modified.",
                    ParamType::Enum { choices: vec!["new".into(), "new_or_changed".into()] },
                )
                .optional(Some(json!("new"))),
                ParamSpec::new(
                    "settle_secs",
                    "Wait until unchanged for (seconds)",
                    "A file still being written waits this long after its last change, so it fires once, complete.",
                    ParamType::Integer { min: Some(0), max: Some(3600) },
                )
                .optional(Some(json!(DEFAULT_SETTLE_SECS))),
            ],
            ingredients: vec![
                ingredient("name", "The file's name.", "invoice-2026-12.pdf"),
                ingredient("path", "The file's full path.", "/home/ada/Downloads/invoice-2026-12.pdf"),
                ingredient("relative_path", "The path inside the watched folder.", "invoice-2026-12.pdf"),
                ingredient("folder", "The watched folder.", "/home/ada/Downloads"),
                ingredient("size", "The size in bytes.", "48213"),
                ingredient("modified_at", "When it was last modified (RFC 3339).", "2026-12-05T09:30:00Z"),
                ingredient("change", "new or changed.", "new"),
            ],
            dynamic_ingredients: false,
            min_interval_secs: None,
        }],
        reactions: vec![ReactionManifest {
            id: "write",
            name: "Write to a file in a folder",
            description: "Appends a line to a file, or replaces its content, in a folder you choose. Subfolders are \
                          created; nothing is ever written outside the folder.",
            params: vec![
                ParamSpec::new("folder", "Folder", "The folder to write in, e.g. /home/ada/Notes.", ParamType::String),
                ParamSpec::new(
                    "file_name",
                    "File name",
                    "The file inside the folder; may use ingredients and subfolders, e.g. log/{{ name }}.txt.",
                    ParamType::String,
                )
                .templated_as(TextContext::FileName),
                ParamSpec::new("text", "Text", "What to write; may use ingredients.", ParamType::String).templated(),
                ParamSpec::new(
                    "mode",
                    "How",
                    "append: add the text at the end (with a line break); replace: the file holds only the text.",
                    ParamType::Enum { choices: vec!["append".into(), "replace".into()] },
                )
                .optional(Some(json!("append"))),
            ],
        }],
    }
}

/// One listed file: its path inside the folder and what identifies its current content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    relative: String,
    size: u64,
    modified: SystemTime,
}

impl Listed {
    /// Size and modification time in nanoseconds: changes whenever the file is written.
    fn signature(&self) -> String {
        let nanos = self.modified.duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        format!("{nanos}:{}", self.size)
    }

    fn settled(&self, now: SystemTime, settle: Duration) -> bool {
        now.duration_since(self.modified).is_ok_and(|age| age >= settle)
    }
}

/// What a check is asked to look at.
#[derive(Debug, Clone)]
struct Watch {
    folder: PathBuf,
    pattern: Glob,
    recursive: bool,
    new_only: bool,
    settle: Duration,
}

impl Watch {
    fn from_params(params: &Params) -> Result<Watch, ConnectorError> {
        let folder = folder_param(params, "folder")?;
        let pattern = Glob::parse(opt_str(params, "pattern").unwrap_or("*")).map_err(|m| bad_param("pattern", m))?;
        let recursive = opt_bool(params, "recursive")?.unwrap_or(false) || pattern.crosses_folders();
        let new_only = opt_str(params, "fire_on").unwrap_or("new") == "new";
        let settle = match params.get("settle_secs") {
            None | Some(Value::Null) => DEFAULT_SETTLE_SECS as f64,
            Some(_) => number_param(params, "settle_secs")?,
        };
        Ok(Watch { folder, pattern, recursive, new_only, settle: Duration::from_secs_f64(settle.clamp(0.0, 3600.0)) })
    }

    /// Lists the matching files (blocking: call it off the async runtime).
    fn list(&self) -> Result<Vec<Listed>, ConnectorError> {
        let mut out = Vec::new();
        let mut stack = vec![(self.folder.clone(), String::new(), 0usize)];
        while let Some((dir, prefix, depth)) = stack.pop() {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                // A subfolder removed or closed to us mid-walk is skipped; the folder itself must be readable.
                Err(_) if depth > 0 => continue,
                Err(e) => return Err(bad_param("folder", format!("cannot read {} ({e})", dir.display()))),
            };
            for entry in entries.flatten() {
                let Ok(name) = entry.file_name().into_string() else { continue };
                let relative = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
                // `DirEntry::metadata` does not follow links: a link is neither walked nor reported.
                let Ok(meta) = entry.metadata() else { continue };
                if meta.is_dir() {
                    if self.recursive && depth < MAX_DEPTH && !name.starts_with('.') {
                        stack.push((entry.path(), relative, depth + 1));
                    }
                } else if meta.is_file() && self.pattern.matches(&relative) {
                    if out.len() == MAX_FILES {
                        return Err(bad_param(
                            "pattern",
                            format!(
                                "more than {MAX_FILES} files match in {}: narrow the pattern",
                                self.folder.display()
                            ),
                        ));
                    }
                    let modified = meta.modified().unwrap_or(UNIX_EPOCH);
                    out.push(Listed { relative, size: meta.len(), modified });
                }
            }
        }
        out.sort_by(|a, b| a.relative.cmp(&b.relative));
        Ok(out)
    }

    /// The events and next cursor of a listing, against the previous cursor (see the module doc).
    fn read(&self, listed: Vec<Listed>, cursor: Option<&Value>, now: SystemTime) -> PollOutput {
        let previous = known_files(cursor);
        let mut files = Map::new();
        let mut events = Vec::new();
        for file in listed {
            let before = previous.get(&file.relative).cloned();
            if !file.settled(now, self.settle) {
                // Not complete yet: keep what was known, look again later.
                if let Some(before) = before {
                    files.insert(file.relative.clone(), Value::String(before));
                }
                continue;
            }
            let current = file.signature();
            let recorded = match (&before, self.new_only) {
                (Some(first_seen), true) => first_seen.clone(),
                _ => current,
            };
            let change = if before.is_some() { "changed" } else { "new" };
            events.push(self.event(&file, &recorded, change));
            files.insert(file.relative, Value::String(recorded));
        }
        PollOutput { events, cursor: Some(json!({ "files": files })) }
    }

    fn event(&self, file: &Listed, recorded: &str, change: &str) -> Event {
        let path = self.folder.join(&file.relative);
        let name = file.relative.rsplit('/').next().unwrap_or(&file.relative).to_string();
        let modified =
            chrono::DateTime::<chrono::Utc>::from(file.modified).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut ingredients = Ingredients::new();
        ingredients.insert("name".into(), json!(name));
        ingredients.insert("path".into(), json!(path.to_string_lossy()));
        ingredients.insert("relative_path".into(), json!(file.relative));
        ingredients.insert("folder".into(), json!(self.folder.to_string_lossy()));
        ingredients.insert("size".into(), json!(file.size.to_string()));
        ingredients.insert("modified_at".into(), json!(modified));
        ingredients.insert("change".into(), json!(change));
        Event { key: format!("{}|{recorded}", file.relative), ingredients }
    }

    /// Whether a settled file differs from what the cursor knows (a check would find news).
    fn has_news(&self, listed: &[Listed], cursor: Option<&Value>, now: SystemTime) -> bool {
        let known = known_files(cursor);
        listed.iter().any(|file| {
            file.settled(now, self.settle)
                && match known.get(&file.relative) {
                    None => true,
                    Some(_) if self.new_only => false,
                    Some(signature) => *signature != file.signature(),
                }
        })
    }
}

/// The cursor's files: relative path → recorded signature.
fn known_files(cursor: Option<&Value>) -> BTreeMap<String, String> {
    cursor
        .and_then(|c| c.get("files"))
        .and_then(Value::as_object)
        .map(|files| files.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
        .unwrap_or_default()
}

async fn list_off_thread(watch: &Watch) -> Result<Vec<Listed>, ConnectorError> {
    let watch = watch.clone();
    tokio::task::spawn_blocking(move || watch.list()).await.map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("listing the folder stopped unexpectedly ({e})"),
    })?
}

/// `changed`: see the module doc.
struct FileChanged {
    access: DeviceAccess,
}

#[async_trait]
impl FetchedAction for FileChanged {
    async fn fetch(&self, ctx: &FetchContext<'_>) -> Result<PollOutput, ConnectorError> {
        self.access.check(ID)?;
        let watch = Watch::from_params(ctx.params)?;
        let listed = list_off_thread(&watch).await?;
        Ok(watch.read(listed, ctx.cursor, SystemTime::now()))
    }

    async fn wait_for_change(&self, ctx: &FetchContext<'_>, max_wait: Duration) -> Result<SourceWait, ConnectorError> {
        self.access.check(ID)?;
        let watch = Watch::from_params(ctx.params)?;
        if ctx.cursor.is_none() {
            // Before the first check there is nothing to compare with: come back once it has
            // recorded the folder (the scheduler asks again with the new cursor).
            tokio::time::sleep(WATCH_EVERY).await;
            return Ok(SourceWait::Quiet);
        }
        let events = changes::watch_off_thread(watch.folder.clone(), watch.recursive).await;
        let cursor = ctx.cursor;
        let watched = &watch;
        let look = move || async move {
            Ok::<_, ConnectorError>(watched.has_news(&list_off_thread(watched).await?, cursor, SystemTime::now()))
        };
        // Looked at again until a change has had time to settle, plus a second either side.
        let quiet_after = watch.settle + 2 * WATCH_EVERY;
        Ok(match changes::wait_for_news(events, max_wait, quiet_after, look).await? {
            true => SourceWait::Changed,
            false => SourceWait::Quiet,
        })
    }
}

/// `write`: see the module doc.
struct WriteFile {
    access: DeviceAccess,
}

#[async_trait]
impl Reaction for WriteFile {
    /// Appending twice adds the line twice.
    fn idempotent(&self) -> bool {
        false
    }

    async fn run(&self, _ctx: &ReactionContext<'_>, params: &Params) -> Result<ReactionOutput, ConnectorError> {
        self.access.check(ID)?;
        let folder = folder_param(params, "folder")?;
        let file_name = req_str(params, "file_name")?.to_string();
        let text = params.get("text").and_then(Value::as_str).unwrap_or("").to_string();
        let append = opt_str(params, "mode").unwrap_or("append") == "append";
        let written =
            tokio::task::spawn_blocking(move || write_in_folder(&folder, &file_name, &text, append)).await.map_err(
                |e| ConnectorError::BadResponse { service: ID.into(), message: format!("writing stopped ({e})") },
            )??;
        Ok(ReactionOutput { summary: written })
    }
}

fn write_in_folder(folder: &Path, file_name: &str, text: &str, append: bool) -> Result<String, ConnectorError> {
    let path = path_in_folder(folder, file_name, "file_name", true)?;
    let mut options = std::fs::OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // The last name must not be a link either: opening it would write wherever it points.
        options.custom_flags(libc::O_NOFOLLOW);
    }
    let mut file = options
        .open(&path)
        .map_err(|e| bad_param("file_name", format!("cannot open {} for writing ({e})", path.display())))?;
    let mut bytes = text.as_bytes().to_vec();
    if append && !text.ends_with('\n') {
        bytes.push(b'\n');
    }
    file.write_all(&bytes).map_err(|e| ConnectorError::BadResponse {
        service: ID.into(),
        message: format!("writing {} failed ({e})", path.display()),
    })?;
    let how = if append { "appended to" } else { "wrote" };
    Ok(format!("{how} {file_name} ({} bytes)", bytes.len()))
}

/// A shell-like file name pattern (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    alternatives: Vec<Vec<char>>,
}

impl Glob {
    /// Parses `pattern`, expanding `{a,b}` alternatives (not nested).
    pub fn parse(pattern: &str) -> Result<Glob, String> {
        let pattern = pattern.trim();
        if pattern.is_empty() {
            return Err("the pattern is empty: use * for every file".into());
        }
        if pattern.starts_with('/') {
            return Err("the pattern names files inside the folder: leave out the leading /".into());
        }
        let mut alternatives = vec![String::new()];
        let mut rest = pattern;
        while let Some(open) = rest.find('{') {
            let close = rest[open..].find('}').map(|i| open + i).ok_or("a `{` is not closed by `}`")?;
            let options: Vec<&str> = rest[open + 1..close].split(',').collect();
            alternatives = alternatives
                .iter()
                .flat_map(|head| options.iter().map(move |o| format!("{head}{}{o}", &rest[..open])))
                .collect();
            if alternatives.len() > 64 {
                return Err("the pattern has too many {…} alternatives (64 at most)".into());
            }
            rest = &rest[close + 1..];
        }
        let alternatives = alternatives.into_iter().map(|a| format!("{a}{rest}").chars().collect()).collect();
        Ok(Glob { alternatives })
    }

    /// Whether the pattern names files in subfolders (`/` or `**`).
    pub fn crosses_folders(&self) -> bool {
        self.alternatives.iter().any(|a| a.contains(&'/'))
    }

    /// Whether `relative` (with `/` between folders) matches. A pattern without `/` is matched
    /// against the file name alone, so `*.pdf` finds PDFs at any depth of a recursive watch.
    pub fn matches(&self, relative: &str) -> bool {
        let name: Vec<char> = relative.rsplit('/').next().unwrap_or(relative).chars().collect();
        let full: Vec<char> = relative.chars().collect();
        self.alternatives.iter().any(|a| {
            let subject = if a.contains(&'/') { &full } else { &name };
            glob_match(a, subject, true)
        })
    }
}

/// Classic glob matching; `at_start` says a name begins here (where `*` and `?` skip a `.`).
fn glob_match(p: &[char], s: &[char], at_start: bool) -> bool {
    match p.first() {
        None => s.is_empty(),
        Some('*') if p.get(1) == Some(&'*') => {
            let rest = if p.get(2) == Some(&'/') { &p[3..] } else { &p[2..] };
            // `**/` matches zero or more whole folders.
            (0..=s.len()).any(|i| (i == 0 || s[i - 1] == '/') && glob_match(rest, &s[i..], true))
        }
        Some('*') => {
            if at_start && s.first() == Some(&'.') {
                return false;
            }
            (0..=s.len()).take_while(|&i| i == 0 || s[i - 1] != '/').any(|i| glob_match(&p[1..], &s[i..], false))
        }
        Some('?') => match s.first() {
            Some(c) if *c != '/' && !(at_start && *c == '.') => glob_match(&p[1..], &s[1..], false),
            _ => false,
        },
        Some('[') => {
            let Some(close) = p.iter().skip(1).position(|c| *c == ']').map(|i| i + 1) else {
                return s.first() == Some(&'[') && glob_match(&p[1..], &s[1..], false);
            };
            let set = &p[1..close];
            let (negate, set) = match set.first() {
                Some('!') | Some('^') => (true, &set[1..]),
                _ => (false, set),
            };
            let Some(c) = s.first() else { return false };
            let mut hit = false;
            let mut i = 0;
            while i < set.len() {
                if i + 2 < set.len() && set[i + 1] == '-' {
                    hit |= set[i] <= *c && *c <= set[i + 2];
                    i += 3;
                } else {
                    hit |= set[i] == *c;
                    i += 1;
                }
            }
            hit != negate && *c != '/' && glob_match(&p[close + 1..], &s[1..], false)
        }
        Some(c) => s.first() == Some(c) && glob_match(&p[1..], &s[1..], *c == '/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_a_shell() {
        let m = |p: &str, s: &str| Glob::parse(p).unwrap().matches(s);
        assert!(m("*", "a.txt") && !m("*", ".hidden") && m(".*", ".hidden"));
        assert!(m("*.pdf", "sub/x.pdf") && !m("*.pdf", "x.pdf.part"));
        assert!(m("invoice-*.{pdf,png}", "invoice-12.png") && !m("invoice-*.{pdf,png}", "invoice-12.jpg"));
        assert!(m("**/*.jpg", "a/b/c.jpg") && m("**/*.jpg", "c.jpg") && !m("a/*.jpg", "a/b/c.jpg"));
        assert!(m("photo-[0-9]?.jpg", "photo-1a.jpg") && !m("photo-[!0-9]?.jpg", "photo-1a.jpg"));
        assert!(Glob::parse("").is_err() && Glob::parse("/etc/*").is_err() && Glob::parse("{a").is_err());
    }
}

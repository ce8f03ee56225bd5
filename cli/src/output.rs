//! Printing results either for people or, with `--json`, for scripts.

use serde::Serialize;

/// Where results go and in which shape.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub json: bool,
}

impl Output {
    /// Prints `value` as JSON when asked, else the human `text`.
    pub fn print<T: Serialize>(&self, value: &T, text: impl FnOnce() -> String) {
        if self.json {
            match serde_json::to_string_pretty(value) {
                Ok(s) => println!("{s}"),
                Err(e) => eprintln!("error: cannot encode JSON output: {e}"),
            }
        } else {
            let text = text();
            if !text.is_empty() {
                println!("{text}");
            }
        }
    }
}

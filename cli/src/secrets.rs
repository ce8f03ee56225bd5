//! Reading secrets: a no-echo prompt on a terminal, or standard input when asked.

use std::io::{self, BufRead};

use crate::commands::CliError;

/// Reads `what.len()` lines from standard input, one secret per line (line endings removed).
pub fn stdin_lines(what: &[&str]) -> Result<Vec<String>, CliError> {
    let mut stdin = io::stdin().lock();
    what.iter().map(|name| read_line(&mut stdin, name)).collect()
}

fn read_line(stdin: &mut impl BufRead, what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    let n = stdin
        .read_line(&mut line)
        .map_err(|e| CliError::msg(format!("cannot read the {what} from standard input: {e}")))?;
    if n == 0 {
        return Err(CliError::msg(format!("expected the {what} on standard input, got nothing")));
    }
    while line.ends_with('\n') || line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// Prompts without echo on the terminal.
pub fn prompt(label: &str) -> Result<String, CliError> {
    rpassword::prompt_password(label)
        .map_err(|e| CliError::msg(format!("cannot read the password from the terminal ({e}): use --password-stdin")))
}

/// A new password prompted twice; differing entries change nothing.
pub fn prompt_new(label: &str) -> Result<String, CliError> {
    let first = prompt(label)?;
    let second = prompt("Repeat it: ")?;
    if first != second {
        return Err(CliError::msg("the two passwords differ: nothing was changed"));
    }
    Ok(first)
}

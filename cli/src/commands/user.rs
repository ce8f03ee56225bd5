//! `area user add|list|delete`.

use serde_json::json;

use crate::cli::UserCommand;
use crate::commands::CliError;
use crate::context::Context;
use crate::output::Output;
use crate::secrets;

pub async fn run(ctx: &Context, out: Output, cmd: UserCommand) -> Result<(), CliError> {
    match cmd {
        UserCommand::Add { email, password_stdin } => {
            let password = if password_stdin {
                secrets::stdin_lines(&["password"])?.remove(0)
            } else {
                secrets::prompt_new("Password for the new account: ")?
            };
            let user = ctx.accounts.register(&email, &password).await?;
            out.print(&user, || format!("created account {} (id {})", user.email, user.id));
        }
        UserCommand::List => {
            let users = ctx.accounts.list_users().await?;
            out.print(&users, || {
                if users.is_empty() {
                    "no accounts yet: create one with `area user add EMAIL`".into()
                } else {
                    users.iter().map(|u| format!("{}\t{}", u.id, u.email)).collect::<Vec<_>>().join("\n")
                }
            });
        }
        UserCommand::Delete { email } => {
            ctx.accounts.delete_user(&email).await?;
            out.print(&json!({ "deleted": email.trim().to_lowercase() }), || {
                format!("deleted account {} and everything it owned", email.trim().to_lowercase())
            });
        }
    }
    Ok(())
}

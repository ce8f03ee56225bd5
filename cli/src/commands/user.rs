//! `area user add|list|delete|invite`.

use area_core::app::App;
use serde_json::json;

use crate::cli::UserCommand;
use crate::commands::CliError;
use crate::output::Output;
use crate::secrets;

pub async fn run(app: &App, out: Output, cmd: UserCommand) -> Result<(), CliError> {
    match cmd {
        UserCommand::Add { email, password_stdin } => {
            let password = if password_stdin {
                secrets::stdin_lines(&["password"])?.remove(0)
            } else {
                secrets::prompt_new("Password for the new account: ")?
            };
            let user = app.create_account(&email, &password).await?;
            out.print(&user, || format!("created account {} (id {})", user.email, user.id));
        }
        UserCommand::List => {
            let users = app.accounts().await?;
            out.print(&users, || {
                if users.is_empty() {
                    "no accounts yet: create one with `area user add EMAIL`".into()
                } else {
                    users.iter().map(|u| format!("{}\t{}", u.id, u.email)).collect::<Vec<_>>().join("\n")
                }
            });
        }
        UserCommand::Invite { public_url } => {
            let code = app.create_invite().await?;
            let link = public_url.map(|u| format!("{}/?invite={code}", u.as_str().trim_end_matches('/')));
            out.print(&json!({ "code": code, "link": link }), || match &link {
                Some(link) => format!("invitation (single use): {link}"),
                None => format!("invitation code (single use): {code}\nshare it as <public-url>/?invite={code}"),
            });
        }
        UserCommand::Delete { email } => {
            app.delete_account(&email).await?;
            out.print(&json!({ "deleted": email.trim().to_lowercase() }), || {
                format!("deleted account {} and everything it owned", email.trim().to_lowercase())
            });
        }
    }
    Ok(())
}

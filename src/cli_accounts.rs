//! `firewatch user …` and `firewatch token …`: accounts from the command line, against
//! the server's database.

use std::io::Read;

use clap::Subcommand;
use firewatch::auth::Role;
use firewatch::auth::accounts::Accounts;

use crate::{ConfigArg, Failure, load, open_db};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a user; prints a generated password unless --password-stdin is given
    Add {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List users (name, role, created, active or disabled)
    List(ConfigArg),
    /// Disable a user: its sessions end and it cannot sign in (never the last active admin)
    Disable {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Enable a disabled user again
    Enable {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Remove a user and its sessions (never the last active admin)
    Remove {
        name: String,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Set a new password (generated and printed unless --password-stdin); sessions end
    ResetPassword {
        name: String,
        /// Read the password from standard input
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        config: ConfigArg,
    },
}

/// The password to set: read from standard input, or generated (and to be printed).
fn password_from(stdin: bool) -> Result<(String, bool), Failure> {
    if stdin {
        let mut buf = String::new();
        std::io::stdin().read_to_string(&mut buf)?;
        Ok((buf.trim_end_matches(['\r', '\n']).to_string(), false))
    } else {
        Ok((firewatch::auth::new_password(), true))
    }
}

/// Runs one account change against the database of `config`; refusals exit 2.
pub async fn with_accounts<T>(
    config: &ConfigArg,
    change: impl AsyncFnOnce(&Accounts) -> Result<T, firewatch::auth::AuthError>,
) -> Result<T, Failure> {
    let settings = load(config)?;
    let db = open_db(&settings, config).await?;
    let accounts = Accounts::new(db.clone());
    let result = change(&accounts).await;
    db.close().await;
    result.map_err(|e| match e {
        firewatch::auth::AuthError::Store(_) | firewatch::auth::AuthError::Hash(_) => {
            Failure(1, e.to_string())
        }
        other => Failure(2, other.to_string()),
    })
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an API token; the token alone is printed on the last line
    Create {
        name: String,
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        config: ConfigArg,
    },
    /// List API tokens (secrets are never shown again)
    List(ConfigArg),
    /// Revoke an API token by id
    Revoke {
        id: i64,
        #[command(flatten)]
        config: ConfigArg,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
}

pub async fn user(command: UserCommand) -> Result<(), Failure> {
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            config,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            with_accounts(&config, async |a| a.add_user(&name, role, &password).await).await?;
            println!("added user {name} with role {role}");
            if generated {
                println!("password: {password}");
            }
        }
        UserCommand::List(config) => {
            let users = with_accounts(&config, async |a| a.users().await).await?;
            for u in users {
                println!(
                    "{}\t{}\t{}\t{}",
                    u.name,
                    u.role,
                    firewatch::time::rfc3339(u.created_at),
                    if u.disabled { "disabled" } else { "active" }
                );
            }
        }
        UserCommand::Disable { name, config } => {
            with_accounts(&config, async |a| a.set_disabled(&name, true).await).await?;
            println!("disabled user {name}; its sessions ended");
        }
        UserCommand::Enable { name, config } => {
            with_accounts(&config, async |a| a.set_disabled(&name, false).await).await?;
            println!("enabled user {name}");
        }
        UserCommand::Remove { name, config } => {
            with_accounts(&config, async |a| a.remove_user(&name).await).await?;
            println!("removed user {name}");
        }
        UserCommand::ResetPassword {
            name,
            password_stdin,
            config,
        } => {
            let (password, generated) = password_from(password_stdin)?;
            with_accounts(&config, async |a| a.reset_password(&name, &password).await).await?;
            println!("new password set for {name}; its sessions ended");
            if generated {
                println!("password: {password}");
            }
        }
    }
    Ok(())
}

pub async fn token(command: TokenCommand) -> Result<(), Failure> {
    match command {
        TokenCommand::Create { name, role, config } => {
            let created =
                with_accounts(&config, async |a| a.create_token(&name, role, "cli").await).await?;
            println!(
                "created API token {} (id {}, role {role}); it is shown only once:",
                name, created.info.id
            );
            println!("{}", created.token);
        }
        TokenCommand::List(config) => {
            let tokens = with_accounts(&config, async |a| a.tokens().await).await?;
            for t in tokens {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                println!("{}\t{}\t{}\t{}…\t{}", t.id, t.name, t.role, t.prefix, state);
            }
        }
        TokenCommand::Revoke { id, config } => {
            with_accounts(&config, async |a| a.revoke_token(id).await).await?;
            println!("revoked API token {id}");
        }
    }
    Ok(())
}

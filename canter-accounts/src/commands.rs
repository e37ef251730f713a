//! `createsuperuser`, `changepassword` and `clearsessions`, as Django's.

use std::io::{BufRead, IsTerminal, Write};

use canter_core::management::{CommandContext, CommandError, ManagementCommand};
use canter_orm::chrono::Utc;
use clap::{Arg, ArgAction, ArgMatches};
use futures_util::future::BoxFuture;

use crate::auth::AuthSettings;
use crate::hashers::amake_password;
use crate::models::User;

/// The variable `createsuperuser --noinput` reads the password from (Django's
/// `DJANGO_SUPERUSER_PASSWORD`).
pub const PASSWORD_VARIABLE: &str = "CANTER_SUPERUSER_PASSWORD";

/// One line from standard input after a prompt.
fn prompt(label: &str) -> Result<String, CommandError> {
    print!("{label}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// A password after a prompt: read from the terminal without echo, as Django's `getpass`;
/// when standard input is not a terminal (a script piping it), one line of it.
fn prompt_secret(label: &str) -> Result<String, CommandError> {
    if std::io::stdin().is_terminal() {
        Ok(rpassword::prompt_password(label)?)
    } else {
        prompt(label)
    }
}

/// Asks for a password twice until both agree and it is not empty.
fn prompt_password() -> Result<String, CommandError> {
    for _ in 0..3 {
        let first = prompt_secret("Password: ")?;
        let second = prompt_secret("Password (again): ")?;
        if first.is_empty() {
            eprintln!("Error: Blank passwords aren't allowed.");
        } else if first != second {
            eprintln!("Error: Your passwords didn't match.");
        } else {
            return Ok(first);
        }
    }
    Err("Aborting: no password given".into())
}

/// Django's username rule (`UnicodeUsernameValidator`): letters, digits and `@.+-_`.
fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= 150
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
}

fn hasher_of(ctx: &CommandContext) -> Result<crate::hashers::Hasher, CommandError> {
    let settings: AuthSettings = ctx.settings.section("auth")?;
    Ok(settings.preferred_hasher()?)
}

/// `createsuperuser [--username U] [--email E] [--noinput]`.
pub struct CreateSuperuser;

impl ManagementCommand for CreateSuperuser {
    fn name(&self) -> &'static str {
        "createsuperuser"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("createsuperuser")
            .about("Creates a superuser (with --noinput, the password comes from CANTER_SUPERUSER_PASSWORD)")
            .arg(Arg::new("username").long("username"))
            .arg(Arg::new("email").long("email"))
            .arg(Arg::new("noinput").long("noinput").alias("no-input").action(ArgAction::SetTrue))
    }
    fn needs_services(&self) -> bool {
        false
    }
    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let noinput = args.get_flag("noinput");
            let given = |name: &str| args.get_one::<String>(name).cloned();
            let username = match (given("username"), noinput) {
                (Some(name), _) => name,
                (None, true) => return Err("You must use --username with --noinput.".into()),
                (None, false) => prompt("Username: ")?,
            };
            if !valid_username(&username) {
                return Err(format!(
                    "Enter a valid username (letters, digits and @/./+/-/_ only): {username:?}"
                )
                .into());
            }
            let email = match (given("email"), noinput) {
                (Some(email), _) => email,
                (None, true) => String::new(),
                (None, false) => prompt("Email address: ")?,
            };
            let password = if noinput {
                std::env::var(PASSWORD_VARIABLE).ok()
            } else {
                Some(prompt_password()?)
            };
            let encoded = match password {
                Some(password) => amake_password(password, hasher_of(ctx)?).await,
                None => crate::hashers::make_unusable_password(),
            };
            let taken = User::objects()
                .filter(User::username.eq(username.clone()))
                .exists()
                .await?;
            if taken {
                return Err("Error: That username is already taken.".into());
            }
            let user = User {
                username,
                email,
                password: encoded,
                is_superuser: true,
                is_staff: true,
                is_active: true,
                date_joined: Utc::now(),
                ..Default::default()
            };
            User::objects().create(user).await?;
            println!("Superuser created successfully.");
            Ok(())
        })
    }
}

/// `changepassword [USERNAME]`.
pub struct ChangePassword;

impl ManagementCommand for ChangePassword {
    fn name(&self) -> &'static str {
        "changepassword"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("changepassword")
            .about("Changes a user's password (which logs out their sessions)")
            .arg(Arg::new("username").required(true))
    }
    fn needs_services(&self) -> bool {
        false
    }
    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let username = args.get_one::<String>("username").expect("required");
            let found = User::objects()
                .filter(User::username.eq(username.clone()))
                .first()
                .await?;
            let Some(user) = found else {
                return Err(format!("user '{username}' does not exist").into());
            };
            println!("Changing password for user '{username}'");
            let password = prompt_password()?;
            let encoded = amake_password(password, hasher_of(ctx)?).await;
            User::objects()
                .filter(User::id.eq(user.id))
                .update([User::password.set(encoded)])
                .await?;
            println!("Password changed successfully for user '{username}'");
            Ok(())
        })
    }
}

/// `clearsessions`: deletes expired sessions.
pub struct ClearSessions;

impl ManagementCommand for ClearSessions {
    fn name(&self) -> &'static str {
        "clearsessions"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("clearsessions").about("Deletes expired sessions")
    }
    fn needs_services(&self) -> bool {
        false
    }
    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        _args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let store = crate::sessions::store_from_settings(&ctx.settings)?;
            let removed = store.clear_expired().await?;
            println!("{removed} expired session(s) deleted.");
            Ok(())
        })
    }
}

//! `check [--deploy]`: settings, URL conf and middleware are validated before any command
//! runs; `check` reports that, plus deployment warnings with `--deploy` (Django's
//! `check --deploy`).

use clap::{Arg, ArgAction, ArgMatches};
use futures_util::future::BoxFuture;

use super::{CommandContext, CommandError, ManagementCommand};

pub(crate) struct Check;

pub(crate) fn deploy_warnings(settings: &crate::settings::Settings) -> Vec<String> {
    let mut warnings = Vec::new();
    if settings.debug {
        warnings.push("debug is true: never deploy with debug on".to_owned());
    }
    match &settings.secret_key {
        Some(key) if key.len() >= 50 => {}
        _ => warnings.push(
            "secret_key is shorter than 50 characters: generate a long random one".to_owned(),
        ),
    }
    if settings.security.hsts_seconds == 0 {
        warnings.push(
            "security.hsts_seconds is 0: behind HTTPS, set it to make browsers insist on HTTPS"
                .to_owned(),
        );
    }
    if !settings.middleware.iter().any(|m| m == "canter.security") {
        warnings
            .push("canter.security is not in middleware: security headers are not sent".to_owned());
    }
    if settings.allowed_hosts.iter().any(|h| h == "*") {
        warnings.push("allowed_hosts contains \"*\": any Host header is accepted".to_owned());
    }
    warnings
}

impl ManagementCommand for Check {
    fn name(&self) -> &'static str {
        "check"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("check")
            .about("Validates settings, URL patterns and middleware")
            .arg(
                Arg::new("deploy")
                    .long("deploy")
                    .action(ArgAction::SetTrue)
                    .help("Also check settings for a production deployment"),
            )
    }

    /// It looks at the project's code and settings only: no broker or layer is connected.
    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let routes = super::app_service(ctx).resolver().routes().count();
            if routes == 0 {
                println!("WARNING: no URL patterns are registered");
            }
            let warnings = if args.get_flag("deploy") {
                deploy_warnings(&ctx.settings)
            } else {
                Vec::new()
            };
            for warning in &warnings {
                println!("WARNING: {warning}");
            }
            println!(
                "System check identified {} issue(s); {routes} route(s).",
                warnings.len() + usize::from(routes == 0)
            );
            Ok(())
        })
    }
}

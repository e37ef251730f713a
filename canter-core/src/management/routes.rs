//! `routes`: the URL patterns in matching order, with their names and views.

use clap::ArgMatches;
use futures_util::future::BoxFuture;

use super::{CommandContext, CommandError, ManagementCommand};

pub(crate) struct Routes;

impl ManagementCommand for Routes {
    fn name(&self) -> &'static str {
        "routes"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("routes").about("Lists the URL patterns in matching order")
    }

    /// It looks at the project's code and settings only: no broker or layer is connected.
    fn needs_services(&self) -> bool {
        false
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        _args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let rows: Vec<(String, String, String)> = super::app_service(ctx)
                .resolver()
                .routes()
                .map(|(pattern, name, view)| {
                    (
                        format!("/{pattern}"),
                        name.unwrap_or("-").to_owned(),
                        view.to_owned(),
                    )
                })
                .collect();
            let width_pattern = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(7);
            let width_name = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(4);
            println!("{:width_pattern$}  {:width_name$}  VIEW", "PATTERN", "NAME");
            for (pattern, name, view) in rows {
                println!("{pattern:width_pattern$}  {name:width_name$}  {view}");
            }
            Ok(())
        })
    }
}

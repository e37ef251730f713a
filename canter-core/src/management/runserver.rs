//! `runserver [ADDR]`: serves the app until SIGINT/SIGTERM.

use std::net::SocketAddr;

use clap::{Arg, ArgMatches};
use futures_util::future::BoxFuture;

use super::{CommandContext, CommandError, ManagementCommand};

pub(crate) struct RunServer;

/// `8000` → 127.0.0.1:8000; `0.0.0.0:8000`; `[::1]:8000`; `localhost:8000`.
pub(crate) fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(port) = text
        .strip_prefix("localhost:")
        .and_then(|p| p.parse::<u16>().ok())
    {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    Err(format!("{text:?} is not a port or an ip:port address"))
}

impl ManagementCommand for RunServer {
    fn name(&self) -> &'static str {
        "runserver"
    }

    fn command(&self) -> clap::Command {
        clap::Command::new("runserver")
            .about("Starts the web server (HTTP/1.1 and HTTP/2) until Ctrl-C or SIGTERM")
            .arg(
                Arg::new("addr")
                    .value_name("ADDR")
                    .help("Port or ip:port to listen on [default: server.bind, 127.0.0.1:8000]"),
            )
    }

    fn run<'a>(
        &'a self,
        ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let text = args
                .get_one::<String>("addr")
                .cloned()
                .unwrap_or_else(|| ctx.settings.server.bind.clone());
            let addr = parse_addr(&text)?;
            let listener = crate::server::bind(addr).map_err(|e| match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    format!("that address ({addr}) is already in use")
                }
                _ => format!("cannot listen on {addr}: {e}"),
            })?;
            let local = listener.local_addr()?;
            // Listening for SIGINT/SIGTERM from here on, before the address is printed: a
            // signal right after it is a graceful stop, not the default kill.
            let serving =
                crate::server::serve_until_signal(listener, super::app_service(ctx).clone());
            let source = ctx
                .settings_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "the app and the environment".into());
            println!(
                "canter {}, settings from {source}, debug = {}",
                env!("CARGO_PKG_VERSION"),
                ctx.settings.debug
            );
            println!("Starting server at http://{local}/");
            println!("Quit the server with CONTROL-C.");
            serving.await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_addr;

    #[test]
    fn addresses() {
        assert_eq!(parse_addr("8001").unwrap().to_string(), "127.0.0.1:8001");
        assert_eq!(parse_addr("0.0.0.0:80").unwrap().to_string(), "0.0.0.0:80");
        assert_eq!(parse_addr("[::1]:8000").unwrap().to_string(), "[::1]:8000");
        assert_eq!(
            parse_addr("localhost:9").unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert!(parse_addr("nope").is_err());
    }
}

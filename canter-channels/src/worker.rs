//! Background consumers (Channels' `runworker`): a consumer bound to a named channel instead of
//! a socket. Anything can `send` it work (`layer.send("thumbnails", Message::new("generate")…)`);
//! `runworker thumbnails` (one or more channels) runs the consumers, one message at a time per
//! channel.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};
use canter_kernel::plugin::{Plugin, StartContext};
use canter_kernel::Services;
use clap::{Arg, ArgMatches};
use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use serde::de::DeserializeOwned;

use crate::layers::{channel_layer, ChannelLayer};

/// A consumer of a named channel's messages.
pub trait BackgroundConsumer: Send + 'static {
    /// The messages it handles, decoded by `type`; others are logged and dropped.
    type Event: DeserializeOwned + Send + 'static;
    /// Handles one message; an error is logged and the worker goes on to the next.
    fn handle(&mut self, event: Self::Event) -> impl Future<Output = Result<(), String>> + Send;
}

type Runner = Arc<dyn Fn(Arc<dyn ChannelLayer>, String) -> BoxFuture<'static, ()> + Send + Sync>;

/// Consumes `channel` forever with `consumer` (what `runworker` runs for each channel). A panic
/// while taking or handling a message is logged and the loop goes on with the next message (the
/// one being handled is lost, as with a handler's error).
pub async fn run_worker<C: BackgroundConsumer>(
    layer: Arc<dyn ChannelLayer>,
    channel: String,
    mut consumer: C,
) {
    tracing::info!(target: "canter::channels", %channel, "worker listening");
    loop {
        let turn = AssertUnwindSafe(handle_next(&*layer, &channel, &mut consumer));
        if let Err(panic) = turn.catch_unwind().await {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(target: "canter::channels", %channel, "worker panicked ({message}); it goes on with the next message");
            // Not a busy loop if every turn panics.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }
}

/// Takes `channel`'s next message and hands it to `consumer`.
async fn handle_next<C: BackgroundConsumer>(
    layer: &dyn ChannelLayer,
    channel: &str,
    consumer: &mut C,
) {
    match layer.receive(channel).await {
        Ok(message) => match message.decode::<C::Event>() {
            Ok(event) => {
                if let Err(e) = consumer.handle(event).await {
                    tracing::error!(target: "canter::channels", %channel, kind = message.kind(), "worker failed: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(target: "canter::channels", %channel, kind = message.kind(), "no handler ({e}); dropped")
            }
        },
        Err(e) => {
            tracing::warn!(target: "canter::channels", %channel, "receive failed: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
    }
}

/// Registers background consumers and adds the `runworker` command:
/// `App::new().plugin(Workers::new().channel("thumbnails", || Thumbnailer))`.
#[derive(Default, Clone)]
pub struct Workers {
    runners: HashMap<String, Runner>,
}

impl Workers {
    /// No channels bound yet; add them with [`channel`](Self::channel).
    pub fn new() -> Self {
        Self::default()
    }

    /// Binds `channel` to consumers made by `factory`.
    pub fn channel<C, F>(mut self, channel: &str, factory: F) -> Self
    where
        C: BackgroundConsumer,
        F: Fn() -> C + Send + Sync + 'static,
    {
        let runner: Runner =
            Arc::new(move |layer, channel| Box::pin(run_worker(layer, channel, factory())));
        self.runners.insert(channel.to_owned(), runner);
        self
    }
}

/// The background consumers' plugin: the `runworker` command.
impl Plugin for Workers {
    fn name(&self) -> &'static str {
        "channel workers"
    }

    fn commands(&self) -> Vec<Arc<dyn ManagementCommand>> {
        vec![Arc::new(RunWorker(Arc::new(Workers {
            runners: self.runners.clone(),
        })))]
    }

    fn start<'a>(
        &'a self,
        _ctx: &'a StartContext,
    ) -> BoxFuture<'a, Result<Services, CommandError>> {
        Box::pin(async { Ok(Services::new()) })
    }
}

struct RunWorker(Arc<Workers>);

impl ManagementCommand for RunWorker {
    fn name(&self) -> &'static str {
        "runworker"
    }

    fn command(&self) -> clap::Command {
        let mut known: Vec<&str> = self.0.runners.keys().map(String::as_str).collect();
        known.sort();
        clap::Command::new("runworker")
            .about("Runs the background consumers of these channels")
            .arg(
                Arg::new("channels")
                    .required(true)
                    .num_args(1..)
                    .help(format!("Channels: {}", known.join(", "))),
            )
    }

    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let channels: Vec<String> = args
                .get_many::<String>("channels")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let layer = channel_layer()?;
            let mut tasks = Vec::new();
            for channel in channels {
                let runner = self
                    .0
                    .runners
                    .get(&channel)
                    .ok_or_else(|| format!("no background consumer for channel {channel:?}"))?;
                tasks.push(canter_kernel::services::spawn(runner(
                    layer.clone(),
                    channel,
                )));
            }
            tokio::select! {
                _ = futures_util::future::join_all(tasks) => {}
                _ = canter_kernel::signals::shutdown_signal() => {}
            }
            Ok(())
        })
    }
}

//! `group_send_on_commit` on both layers: the group hears the message only after the
//! transaction commits, never after a rollback, and at once outside a transaction.

use std::sync::Arc;
use std::time::Duration;

use canter_channels::layers::{
    group_send_on_commit, layer_app, ChannelLayer, InMemoryChannelLayer, Message,
    RedisChannelLayer, RedisLayerConfig,
};
use canter_orm::transaction::atomic;
use canter_orm::{Databases, OrmError};

async fn heard(layer: &Arc<dyn ChannelLayer>, channel: &str) -> Option<String> {
    let message = tokio::time::timeout(Duration::from_millis(300), layer.receive(channel))
        .await
        .ok()?
        .unwrap();
    Some(
        message
            .get("text")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The three cases against `layer`, the app's.
async fn commit_rollback_and_no_transaction(name: &str, layer: Arc<dyn ChannelLayer>) {
    layer_app(layer.clone())
        .scope(the_three_cases(name, layer))
        .await
}

async fn the_three_cases(name: &str, layer: Arc<dyn ChannelLayer>) {
    let channel = layer.new_channel();
    layer.group_add("on_commit_room", &channel).await.unwrap();
    let dbs = Arc::new(Databases::single("sqlite::memory:").unwrap());
    dbs.scope(async {
        // Committed: sent after the commit, not before.
        let (layer_in, channel_in) = (layer.clone(), channel.clone());
        atomic(async move {
            group_send_on_commit("on_commit_room", Message::new("note").with("text", "kept"))
                .unwrap();
            assert_eq!(
                heard(&layer_in, &channel_in).await,
                None,
                "{name}: not before the commit"
            );
            Ok::<_, OrmError>(())
        })
        .await
        .unwrap();
        assert_eq!(
            heard(&layer, &channel).await.as_deref(),
            Some("kept"),
            "{name}"
        );
        // Rolled back: never sent.
        let rolled_back: Result<(), OrmError> = atomic(async {
            group_send_on_commit("on_commit_room", Message::new("note").with("text", "lost"))
                .unwrap();
            Err(OrmError::InvalidLookup("roll back".into()))
        })
        .await;
        assert!(rolled_back.is_err());
        assert_eq!(
            heard(&layer, &channel).await,
            None,
            "{name}: nothing after a rollback"
        );
        // Outside a transaction: at once.
        group_send_on_commit("on_commit_room", Message::new("note").with("text", "now")).unwrap();
        assert_eq!(
            heard(&layer, &channel).await.as_deref(),
            Some("now"),
            "{name}"
        );
        // A bad group name is refused at the call, not lost after the commit.
        assert!(group_send_on_commit("no spaces", Message::new("note")).is_err());
    })
    .await;
    layer
        .group_discard("on_commit_room", &channel)
        .await
        .unwrap();
}

#[tokio::test]
async fn group_send_on_commit_waits_for_the_commit_in_memory() {
    let layer = Arc::new(InMemoryChannelLayer::default());
    commit_rollback_and_no_transaction("in-memory", layer).await;
}

#[tokio::test]
async fn group_send_on_commit_waits_for_the_commit_on_redis() {
    // A prefix of the test's own, its keys deleted however the test ends.
    let Some(keys) = canter_test_kit::RedisKeys::create("oncommit") else {
        return;
    };
    let config = RedisLayerConfig {
        hosts: vec![keys.url.clone()],
        prefix: keys.prefix.clone(),
        ..RedisLayerConfig::default()
    };
    let layer = RedisChannelLayer::connect(config).await.unwrap().shared();
    commit_rollback_and_no_transaction("redis", layer).await;
}

//! `group_send_on_commit`: a group message that goes out only if the surrounding database
//! transaction commits — Django's `transaction.on_commit(lambda:
//! async_to_sync(layer.group_send)(group, message))`, so a socket never hears of a row that
//! was rolled back. Rides on the ORM's `on_commit` queue (cargo feature `orm`).

use canter_orm::DEFAULT_DB_ALIAS;

use super::{channel_layer, valid_group_name, LayerError, Message};

/// Sends `message` to `group` once the current `atomic` block on the default database
/// commits; never if it rolls back. Outside a transaction it is sent at once (spawned). The
/// group's name is checked now; a send that fails after the commit is logged (the commit
/// cannot be undone for it).
///
/// ```no_run
/// # use canter_channels::layers::{group_send_on_commit, Message};
/// # async fn f() -> Result<(), canter_orm::OrmError> {
/// canter_orm::transaction::atomic(async {
///     // … save the chat message …
///     group_send_on_commit("chat_lobby", Message::new("chat.message").with("message", "hi"))
///         .expect("a valid group name");
///     Ok::<_, canter_orm::OrmError>(())
/// })
/// .await
/// # }
/// ```
pub fn group_send_on_commit(group: &str, message: Message) -> Result<(), LayerError> {
    group_send_on_commit_using(DEFAULT_DB_ALIAS, group, message)
}

/// [`group_send_on_commit`] for the transaction on database `alias`.
pub fn group_send_on_commit_using(
    alias: &str,
    group: &str,
    message: Message,
) -> Result<(), LayerError> {
    if !valid_group_name(group) {
        return Err(LayerError::Invalid(format!("invalid group name {group:?}")));
    }
    let layer = channel_layer()?;
    let group = group.to_owned();
    canter_orm::transaction::on_commit_using(alias, async move {
        if let Err(e) = layer.group_send(&group, message).await {
            tracing::warn!(target: "canter::channels", group, "group_send after commit failed: {e}");
        }
    });
    Ok(())
}

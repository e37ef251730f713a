//! Messages shown once on the next page ("The note “x” was added successfully."), kept in the
//! session as Django's session message storage keeps them.

use canter_accounts::sessions::SessionExt;
use canter_core::Request;
use serde::{Deserialize, Serialize};

const KEY: &str = "_admin_messages";

/// One message: its level (`success`, `warning`, `error`) and text.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Message {
    pub level: String,
    pub text: String,
}

/// Adds a message for the next page.
pub(crate) async fn add(req: &mut Request, level: &str, text: String) {
    let Ok(session) = req.session() else {
        return;
    };
    let mut list: Vec<Message> = session.get(KEY).await.unwrap_or_default();
    list.push(Message {
        level: level.to_owned(),
        text,
    });
    session.insert(KEY, list).await;
}

/// Takes the waiting messages (each is shown once).
pub(crate) async fn take(req: &mut Request) -> Vec<Message> {
    let Ok(session) = req.session() else {
        return Vec::new();
    };
    if !session.contains(KEY).await {
        return Vec::new();
    }
    let list = session.get(KEY).await.unwrap_or_default();
    session.remove(KEY).await;
    list
}

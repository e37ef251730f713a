//! The user in a WebSocket consumer's scope (Channels' `AuthMiddlewareStack`): read from the
//! handshake's session cookie; a consumer refuses anonymous users.

use canter_accounts::testing::ForceLogin;
use canter_accounts::websocket::ScopeUser;
use canter_channels::testing::WebsocketCommunicator;
use canter_channels::{websocket, Consumer, ConsumerError, Context, Frame, NoEvent, Scope};
use canter_core::prelude::*;
use canter_core::test::TestClient;

use crate::common::{settings, FAST};

/// Greets the logged-in user; closes (4003) for an anonymous one.
struct Members {
    user: Option<String>,
}

impl Consumer for Members {
    type Event = NoEvent;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        let Some(user) = &self.user else {
            return ctx.close(4003, "log in first").await;
        };
        ctx.accept().await?;
        ctx.send_text(&format!("hello {user}")).await
    }

    async fn receive(&mut self, _ctx: &mut Context, _frame: Frame) -> Result<(), ConsumerError> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_sees_the_user_and_refuses_anonymous_ones() {
    let site = crate::common::site(FAST).await;
    let ann = site.user("ann", 1000).await;
    let app = crate::common::app()
        .plugin(canter_channels::Channels)
        .urls(vec![path(
            "ws/members/",
            websocket(|scope: &Scope| Members {
                user: scope.user().map(|u| u.username),
            }),
        )]);
    let client = site
        .run(TestClient::start_with_settings(app, settings(FAST)))
        .await;
    client.force_login(&ann).await;
    let cookie = format!("sessionid={}", client.cookie("sessionid").unwrap());
    let mut ws = WebsocketCommunicator::connect_with(
        client.service(),
        "/ws/members/",
        &[("cookie", &cookie)],
    )
    .await
    .unwrap();
    assert_eq!(ws.receive_text().await.unwrap(), "hello ann");
    ws.close(1000).await;
    let mut anonymous = WebsocketCommunicator::connect(client.service(), "/ws/members/").await;
    match &mut anonymous {
        Ok(ws) => {
            assert_eq!(ws.receive_text().await, None, "closed without a message");
            assert_eq!(ws.close_code, Some(4003));
        }
        Err(status) => assert_eq!(*status, StatusCode::FORBIDDEN),
    }
}

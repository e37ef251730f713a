//! The session and user in a WebSocket consumer's scope (Channels' `AuthMiddlewareStack`):
//! the handshake is an HTTP request, so `canter.sessions` and `canter.auth` have run on it,
//! with the cookies the browser sent.
//!
//! ```
//! use canter_accounts::websocket::ScopeUser;
//! use canter_channels::Scope;
//!
//! fn name_of(scope: &Scope) -> String {
//!     scope.user().map(|u| u.username).unwrap_or_else(|| "anonymous".into())
//! }
//! assert_eq!(name_of(&Scope::default()), "anonymous");
//! ```

use canter_channels::Scope;

use crate::auth::CurrentUser;
use crate::models::User;
use crate::sessions::Session;

/// `scope["user"]` and `scope["session"]`.
pub trait ScopeUser {
    /// The user logged in by the handshake's session cookie, or `None` (anonymous): a
    /// consumer refuses anonymous users by closing in `connect`.
    fn user(&self) -> Option<User>;
    /// The handshake's session (reading it is fine; the handshake's response is gone, so
    /// what is written is not saved).
    fn session(&self) -> Option<Session>;
}

impl ScopeUser for Scope {
    fn user(&self) -> Option<User> {
        self.extensions.get::<CurrentUser>()?.known().flatten()
    }
    fn session(&self) -> Option<Session> {
        self.extensions.get::<Session>().cloned()
    }
}

//! CSRF protection with Django's semantics (`django.middleware.csrf`): a 32-character secret
//! in the `csrftoken` cookie, a freshly masked 64-character token per page (the
//! `csrfmiddlewaretoken` field or the `X-CSRFToken` header), `Origin` checked against the
//! host and `[csrf] trusted_origins` (`Referer` on HTTPS without `Origin`), 403 otherwise.
//!
//! Templates get `csrf_input` (the hidden field) and `csrf_token`; a route is exempted with
//! [`CsrfExempt`] (`path(...).tag(CsrfExempt)`, or `.csrf_exempt()` from [`crate::guards`]).

mod check;
mod middleware;
mod settings;

pub use middleware::CsrfViewMiddleware;
pub use settings::CsrfSettings;

use std::sync::{Arc, Mutex};

use canter_core::Request;

use crate::crypto::{constant_time_eq, random_string, RANDOM_STRING_CHARS};

/// Django's `CSRF_ALLOWED_CHARS`: `a-z`, `A-Z`, `0-9`, in that order (masking adds indices).
const CHARS: &[u8] = RANDOM_STRING_CHARS;
/// Length of the secret the cookie holds (Django's `CSRF_SECRET_LENGTH`).
pub const CSRF_SECRET_LENGTH: usize = 32;
/// Length of a masked token in a form or header: mask and masked secret (`CSRF_TOKEN_LENGTH`).
pub const CSRF_TOKEN_LENGTH: usize = 64;

/// Marks a route exempt from the CSRF check (Django's `@csrf_exempt`): API views that
/// authenticate otherwise than by cookie.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CsrfExempt;

fn index(c: u8) -> usize {
    CHARS.iter().position(|&x| x == c).unwrap_or(0)
}

/// A new 32-character secret.
pub fn new_secret() -> String {
    random_string(CSRF_SECRET_LENGTH, CHARS)
}

/// Django's `_mask_cipher_secret` with a given mask: `mask + cipher`, each cipher character
/// the sum of the secret's and the mask's indices, mod 62.
pub fn mask_with(secret: &str, mask: &str) -> String {
    let cipher: String = secret
        .bytes()
        .zip(mask.bytes())
        .map(|(s, m)| CHARS[(index(s) + index(m)) % CHARS.len()] as char)
        .collect();
    format!("{mask}{cipher}")
}

/// A masked token for `secret`, with a fresh mask (a different token on every page, against
/// BREACH).
pub fn mask(secret: &str) -> String {
    mask_with(secret, &random_string(CSRF_SECRET_LENGTH, CHARS))
}

/// Django's `_unmask_cipher_token`.
pub fn unmask(token: &str) -> String {
    let (mask, cipher) = token.split_at(CSRF_SECRET_LENGTH);
    cipher
        .bytes()
        .zip(mask.bytes())
        .map(|(c, m)| CHARS[(index(c) + CHARS.len() - index(m)) % CHARS.len()] as char)
        .collect()
}

/// Django's `_check_token_format`: 32 or 64 characters of `a-zA-Z0-9`.
pub fn token_format_error(token: &str) -> Option<&'static str> {
    if token.len() != CSRF_TOKEN_LENGTH && token.len() != CSRF_SECRET_LENGTH {
        return Some("has incorrect length");
    }
    if !token.bytes().all(|b| CHARS.contains(&b)) {
        return Some("has invalid characters");
    }
    None
}

/// Django's `_does_token_match`: a masked token unmasked, then compared in constant time.
pub fn token_matches(token: &str, secret: &str) -> bool {
    let token = if token.len() == CSRF_TOKEN_LENGTH {
        unmask(token)
    } else {
        token.to_owned()
    };
    constant_time_eq(token.as_bytes(), secret.as_bytes())
}

/// One request's CSRF secret (a request extension; read it through [`get_token`]): from the cookie, or made when first needed; the cookie is
/// (re)sent when it was made or rotated (Django's `CSRF_COOKIE_NEEDS_UPDATE`).
#[derive(Clone, Default)]
pub struct CsrfState(Arc<Mutex<CsrfInner>>);

#[derive(Default)]
struct CsrfInner {
    secret: Option<String>,
    needs_update: bool,
}

impl CsrfState {
    pub(crate) fn new(secret: Option<String>) -> Self {
        Self(Arc::new(Mutex::new(CsrfInner {
            secret,
            needs_update: false,
        })))
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, CsrfInner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn secret(&self) -> Option<String> {
        self.lock().secret.clone()
    }
    /// A masked token (Django's `get_token`), making the secret if there is none.
    pub(crate) fn token(&self) -> String {
        let mut inner = self.lock();
        let secret = inner.secret.get_or_insert_with(new_secret).clone();
        inner.needs_update = true;
        mask(&secret)
    }
    pub(crate) fn rotate(&self) {
        let mut inner = self.lock();
        inner.secret = Some(new_secret());
        inner.needs_update = true;
    }
    /// The secret to send in the cookie, if it changed or a token was handed out.
    pub(crate) fn cookie_update(&self) -> Option<String> {
        let inner = self.lock();
        if inner.needs_update {
            inner.secret.clone()
        } else {
            None
        }
    }
}

/// Django's `get_token(request)`: a masked token for a form or a JavaScript header; the
/// response then sets the cookie. `None` without the `canter.csrf` middleware.
pub fn get_token(req: &Request) -> Option<String> {
    req.extensions().get::<CsrfState>().map(CsrfState::token)
}

/// Django's `rotate_token(request)`: a new secret (login does this); tokens of the old one
/// are refused from now on.
pub fn rotate_token(req: &Request) {
    if let Some(state) = req.extensions().get::<CsrfState>() {
        state.rotate();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn djangos_masking_vector() {
        // interop-formats.md §3.1.
        let token = mask_with(
            "abcdefghijklmnopqrstuvwxyzABCDEF",
            "0123456789ABCDEFGHIJKLMNOPQRSTUV",
        );
        assert_eq!(
            token,
            "0123456789ABCDEFGHIJKLMNOPQRSTUV02468acegiKMOQSUWY02468acegikmoq"
        );
        assert_eq!(unmask(&token), "abcdefghijklmnopqrstuvwxyzABCDEF");
        assert!(token_matches(&token, "abcdefghijklmnopqrstuvwxyzABCDEF"));
        assert!(token_matches(
            "abcdefghijklmnopqrstuvwxyzABCDEF",
            "abcdefghijklmnopqrstuvwxyzABCDEF"
        ));
        let secret = new_secret();
        assert!(token_matches(&mask(&secret), &secret));
        assert!(!token_matches(&mask(&new_secret()), &secret));
        assert_eq!(token_format_error("short"), Some("has incorrect length"));
        assert_eq!(
            token_format_error(&"!".repeat(32)),
            Some("has invalid characters")
        );
    }
}

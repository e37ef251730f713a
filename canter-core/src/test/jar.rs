//! The test client's cookies (Django's `client.cookies`): sent with every request, updated
//! from every response's `Set-Cookie`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use http::header::SET_COOKIE;
use http::HeaderMap;

use crate::cookies::Cookie;

/// Cookies by name (a test client talks to one host, so name alone keys them, as Django's
/// `SimpleCookie` does). Shared by the clones of one client.
#[derive(Clone, Default, Debug)]
pub(crate) struct CookieJar(Arc<Mutex<BTreeMap<String, String>>>);

impl CookieJar {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.lock().get(name).cloned()
    }

    pub(crate) fn set(&self, name: &str, value: &str) {
        self.lock().insert(name.to_owned(), value.to_owned());
    }

    pub(crate) fn remove(&self, name: &str) {
        self.lock().remove(name);
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    /// The `Cookie` header to send, if there are any.
    pub(crate) fn header(&self) -> Option<String> {
        let cookies = self.lock();
        if cookies.is_empty() {
            return None;
        }
        let pairs: Vec<String> = cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        Some(pairs.join("; "))
    }

    /// Takes in a response's cookies; one that expires now (`Max-Age=0`, as
    /// `delete_cookie` sends) is removed.
    pub(crate) fn update(&self, headers: &HeaderMap) {
        for value in headers.get_all(SET_COOKIE) {
            let Some(cookie) = value
                .to_str()
                .ok()
                .and_then(|text| Cookie::parse(text.to_owned()).ok())
            else {
                continue;
            };
            let expired = cookie
                .max_age()
                .is_some_and(|age| age.is_zero() || age.is_negative());
            if expired {
                self.remove(cookie.name());
            } else {
                self.set(cookie.name(), cookie.value());
            }
        }
    }
}

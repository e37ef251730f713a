//! Cookies: `request.COOKIES` and `response.set_cookie()` / `delete_cookie()`.
//!
//! Reading follows Django's `parse_cookie` (lenient: what browsers send, not RFC 6265's
//! grammar); writing uses the [`cookie`] crate's `Set-Cookie` formatting.
//!
//! ```
//! use canter_core::cookies::{Cookie, CookiesExt, ResponseCookies};
//! use canter_core::prelude::*;
//!
//! async fn view(req: Request) -> Response {
//!     let seen = req.cookie("seen").is_some();
//!     let mut response = format!("seen before: {seen}").into_response();
//!     response.set_cookie(Cookie::build(("seen", "1")).path("/").http_only(true).build());
//!     response
//! }
//! ```

use http::header::{COOKIE, SET_COOKIE};
use http::HeaderValue;

/// The `cookie` crate (its `time` types set `Max-Age` and `Expires`).
pub use cookie;
pub use cookie::{Cookie, SameSite};

/// The cookies of a request's `Cookie` headers, as Django's `parse_cookie`: chunks split on
/// `;`, each at its first `=` (a chunk without one is a value with an empty name), both sides
/// trimmed, a double-quoted value unquoted; a later cookie of the same name wins.
pub fn parse_cookies(headers: &http::HeaderMap) -> Vec<(String, String)> {
    let mut cookies: Vec<(String, String)> = Vec::new();
    for header in headers.get_all(COOKIE) {
        let Ok(text) = header.to_str() else { continue };
        for chunk in text.split(';') {
            let (name, value) = match chunk.split_once('=') {
                Some((name, value)) => (name.trim(), value.trim()),
                None => ("", chunk.trim()),
            };
            if name.is_empty() && value.is_empty() {
                continue;
            }
            let value = unquote(value);
            match cookies.iter_mut().find(|(n, _)| n == name) {
                Some(existing) => existing.1 = value,
                None => cookies.push((name.to_owned(), value)),
            }
        }
    }
    cookies
}

/// A double-quoted cookie value without its quotes and backslash escapes.
fn unquote(value: &str) -> String {
    let Some(inner) = value
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
    else {
        return value.to_owned();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `request.COOKIES` on a request (or its `Parts`' headers).
pub trait CookiesExt {
    /// The value of cookie `name`, if the request sent it.
    fn cookie(&self, name: &str) -> Option<String>;
    /// Every cookie the request sent, in order.
    fn cookies(&self) -> Vec<(String, String)>;
}

impl<B> CookiesExt for http::Request<B> {
    fn cookie(&self, name: &str) -> Option<String> {
        cookie_in(self.headers(), name)
    }
    fn cookies(&self) -> Vec<(String, String)> {
        parse_cookies(self.headers())
    }
}

impl CookiesExt for http::request::Parts {
    fn cookie(&self, name: &str) -> Option<String> {
        cookie_in(&self.headers, name)
    }
    fn cookies(&self) -> Vec<(String, String)> {
        parse_cookies(&self.headers)
    }
}

fn cookie_in(headers: &http::HeaderMap, name: &str) -> Option<String> {
    parse_cookies(headers)
        .into_iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// `response.set_cookie()` and `delete_cookie()` on a response.
pub trait ResponseCookies {
    /// Adds a `Set-Cookie` header (replacing one this response already sets for the same
    /// name, path and domain).
    fn set_cookie(&mut self, cookie: Cookie<'_>);
    /// Expires cookie `name` in the browser, as Django's `delete_cookie`: an empty value,
    /// `Max-Age=0` and an expiry in 1970, on the same path and domain.
    fn delete_cookie(&mut self, name: &str, path: &str, domain: Option<&str>);
}

impl<B> ResponseCookies for http::Response<B> {
    fn set_cookie(&mut self, cookie: Cookie<'_>) {
        let headers = self.headers_mut();
        let same = |value: &HeaderValue| {
            value
                .to_str()
                .ok()
                .and_then(|text| Cookie::parse(text.to_owned()).ok())
                .is_some_and(|old| {
                    old.name() == cookie.name()
                        && old.path() == cookie.path()
                        && old.domain() == cookie.domain()
                })
        };
        let kept: Vec<HeaderValue> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter(|v| !same(v))
            .cloned()
            .collect();
        headers.remove(SET_COOKIE);
        for value in kept {
            headers.append(SET_COOKIE, value);
        }
        if let Ok(value) = HeaderValue::from_str(&cookie.to_string()) {
            headers.append(SET_COOKIE, value);
        }
    }

    fn delete_cookie(&mut self, name: &str, path: &str, domain: Option<&str>) {
        let mut cookie = Cookie::build((name.to_owned(), String::new()))
            .path(path.to_owned())
            .max_age(cookie::time::Duration::ZERO)
            .expires(cookie::time::OffsetDateTime::UNIX_EPOCH)
            .build();
        if let Some(domain) = domain {
            cookie.set_domain(domain.to_owned());
        }
        self.set_cookie(cookie);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> http::HeaderMap {
        let mut map = http::HeaderMap::new();
        for v in values {
            map.append(COOKIE, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn parses_as_django_does() {
        let parsed = parse_cookies(&headers(&["a=1; b = 2 ;c=\"q\\\"x\"; loose; a=3"]));
        assert_eq!(
            parsed,
            vec![
                ("a".into(), "3".into()),
                ("b".into(), "2".into()),
                ("c".into(), "q\"x".into()),
                ("".into(), "loose".into()),
            ]
        );
        assert_eq!(parse_cookies(&headers(&["x=a=b"]))[0].1, "a=b");
    }

    #[test]
    fn set_replaces_and_delete_expires() {
        let mut response = http::Response::new(());
        response.set_cookie(Cookie::build(("s", "1")).path("/").build());
        response.set_cookie(Cookie::build(("s", "2")).path("/").build());
        response.set_cookie(Cookie::build(("t", "3")).path("/").build());
        let all: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(all, ["s=2; Path=/", "t=3; Path=/"]);
        response.delete_cookie("t", "/", None);
        let last = response
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .next_back()
            .unwrap();
        let text = last.to_str().unwrap();
        assert!(
            text.starts_with("t=;") && text.contains("Max-Age=0"),
            "{text}"
        );
        assert!(text.contains("1970"), "{text}");
    }
}

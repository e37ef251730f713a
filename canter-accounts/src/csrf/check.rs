//! Django's `_origin_verified` and `_check_referer`: where an unsafe request may come from.

use canter_core::{Request, RequestExt};

use super::CsrfSettings;

/// Django's `is_same_domain`: a pattern starting with `.` matches the domain and its
/// subdomains; otherwise exactly (case-insensitive).
pub(crate) fn is_same_domain(host: &str, pattern: &str) -> bool {
    let (host, pattern) = (host.to_ascii_lowercase(), pattern.to_ascii_lowercase());
    if pattern.is_empty() {
        return false;
    }
    match pattern.strip_prefix('.') {
        Some(bare) => host.ends_with(&pattern) || host == bare,
        None => host == pattern,
    }
}

fn host_of(req: &Request) -> String {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// `scheme://netloc` split, the netloc without path.
fn split_url(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let netloc = rest.split(['/', '?', '#']).next().unwrap_or("");
    (!scheme.is_empty() && !netloc.is_empty()).then_some((scheme, netloc))
}

/// Checks `Origin` (when sent), else `Referer` on HTTPS; the reason in Django's words.
pub(crate) fn check_source(req: &Request, settings: &CsrfSettings) -> Result<(), String> {
    let secure = req.is_secure();
    if let Some(origin) = req.headers().get(http::header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        return if origin_verified(origin, secure, &host_of(req), settings) {
            Ok(())
        } else {
            Err(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            ))
        };
    }
    if secure {
        return check_referer(req, settings);
    }
    Ok(())
}

fn origin_verified(origin: &str, secure: bool, host: &str, settings: &CsrfSettings) -> bool {
    let scheme = if secure { "https" } else { "http" };
    if origin == format!("{scheme}://{host}") {
        return true;
    }
    if settings
        .trusted_origins
        .iter()
        .any(|t| !t.contains('*') && t == origin)
    {
        return true;
    }
    let Some((origin_scheme, origin_netloc)) = split_url(origin) else {
        return false;
    };
    settings.trusted_origins.iter().any(|trusted| {
        let Some((t_scheme, t_netloc)) = split_url(trusted) else {
            return false;
        };
        trusted.contains('*')
            && t_scheme == origin_scheme
            && is_same_domain(origin_netloc, &t_netloc.replacen('*', "", 1))
    })
}

fn check_referer(req: &Request, settings: &CsrfSettings) -> Result<(), String> {
    let referer = req
        .headers()
        .get(http::header::REFERER)
        .ok_or("Referer checking failed - no Referer.")?
        .to_str()
        .unwrap_or("");
    let (scheme, netloc) =
        split_url(referer).ok_or("Referer checking failed - Referer is malformed.")?;
    if scheme != "https" {
        return Err("Referer checking failed - Referer is insecure while host is secure.".into());
    }
    let trusted = settings
        .trusted_origins
        .iter()
        .filter_map(|t| split_url(t).map(|(_, n)| n.replacen('*', "", 1)))
        .any(|n| is_same_domain(netloc, &n));
    let good = match &settings.cookie_domain {
        Some(domain) => domain.clone(),
        None => host_of(req),
    };
    if trusted || is_same_domain(netloc, &good) {
        Ok(())
    } else {
        Err(format!(
            "Referer checking failed - {referer} does not match any trusted origins."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_origins() {
        assert!(is_same_domain("a.example.com", ".example.com"));
        assert!(is_same_domain("example.com", ".example.com"));
        assert!(!is_same_domain("badexample.com", ".example.com"));
        assert!(!is_same_domain("example.com.evil", "example.com"));
        let settings = CsrfSettings {
            trusted_origins: vec!["https://*.example.com".into(), "https://other.org".into()],
            ..Default::default()
        };
        assert!(origin_verified(
            "http://testserver",
            false,
            "testserver",
            &settings
        ));
        assert!(!origin_verified(
            "https://testserver",
            false,
            "testserver",
            &settings
        ));
        assert!(origin_verified(
            "https://x.example.com",
            true,
            "h",
            &settings
        ));
        assert!(!origin_verified(
            "http://x.example.com",
            true,
            "h",
            &settings
        ));
        assert!(origin_verified("https://other.org", true, "h", &settings));
        assert!(!origin_verified("https://evil.org", true, "h", &settings));
        assert!(!origin_verified("null", true, "h", &settings));
    }
}

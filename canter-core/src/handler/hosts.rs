//! The `Host` check (Django's `ALLOWED_HOSTS` and `validate_host`): parse the authority, then
//! match it against the allowed patterns, without allocating (it runs on every request).

/// The 400's message for a `Host` (or request authority) that is not a host and an optional
/// port.
pub(super) fn malformed_host(shown: &str) -> String {
    tracing::warn!(target: "canter::security", host = %shown, "malformed Host header");
    format!("Invalid Host header: {shown:?} is not a host name with an optional port (0 to 65535).")
}

/// The host of `host[:port]` (`[v6]` or `[v6]:port` too), or `None` when the port is not
/// 1 to 5 digits up to 65535 (`example.com:abc`, `example.com:`, `example.com:99999`) or the
/// authority holds user information (`user@host`, which RFC 9113 forbids in `:authority`).
pub(super) fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = match authority.strip_prefix('[') {
        // [::1]:8000 → [::1]
        Some(rest) => {
            let end = rest.find(']')? + 2;
            (&authority[..end], authority[end..].strip_prefix(':'))
        }
        // A plain backwards loop: `rsplit_once` goes through `memrchr`, slower on a short Host.
        None => match authority.bytes().rposition(|b| b == b':') {
            Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
            None => (authority, None),
        },
    };
    if authority.len() > host.len() && port.is_none() {
        return None; // `[::1]x`: something other than a port after the brackets
    }
    let port_ok = port.is_none_or(|port| {
        (1..=5).contains(&port.len())
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u32>().is_ok_and(|n| n <= 65_535)
    });
    (port_ok && !host.contains('@')).then_some(host)
}

/// The bytes a Host may hold (letters, digits, `-._:[]`), as a table: this runs per byte of
/// every request's Host.
const HOST_BYTE: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] =
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'[' | b']' | b':' | b'_');
        i += 1;
    }
    table
};

/// Django's `validate_host`: exact names, `.example.com` for a domain and its subdomains, `*`.
pub(super) struct AllowedHosts {
    patterns: Vec<String>,
}

impl AllowedHosts {
    pub(super) fn new(patterns: Vec<String>) -> Self {
        Self {
            patterns: patterns
                .into_iter()
                .map(|p| p.to_ascii_lowercase())
                .collect(),
        }
    }

    /// Without allocating: this runs on every request.
    pub(super) fn allows(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        let valid = !host.is_empty() && host.bytes().all(|b| HOST_BYTE[usize::from(b)]);
        let ends_with = |suffix: &str| {
            host.len() >= suffix.len()
                && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
        };
        valid
            && self.patterns.iter().any(|pattern| {
                pattern == "*"
                    || pattern.eq_ignore_ascii_case(host)
                    || (pattern.starts_with('.')
                        && (ends_with(pattern) || pattern[1..].eq_ignore_ascii_case(host)))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_hosts_semantics() {
        let hosts = AllowedHosts::new(vec!["example.com".into(), ".example.org".into()]);
        assert!(hosts.allows("example.com"));
        assert!(hosts.allows("EXAMPLE.com"));
        assert!(hosts.allows("example.org"));
        assert!(hosts.allows("api.example.org"));
        assert!(!hosts.allows("evil-example.org"));
        assert!(!hosts.allows("example.com.evil"));
        assert!(!hosts.allows("exa mple.com"));
        assert!(AllowedHosts::new(vec!["*".into()]).allows("anything.test"));
        assert!(!AllowedHosts::new(vec!["*".into()]).allows("bad host"));
    }

    #[test]
    fn ports_are_stripped() {
        assert_eq!(host_of("example.com:8000"), Some("example.com"));
        assert_eq!(host_of("example.com:0"), Some("example.com"));
        assert_eq!(host_of("example.com:65535"), Some("example.com"));
        assert_eq!(host_of("[::1]:8000"), Some("[::1]"));
        assert_eq!(host_of("[::1]"), Some("[::1]"));
        assert_eq!(host_of("localhost"), Some("localhost"));
    }

    #[test]
    fn malformed_ports_are_refused() {
        for authority in [
            "example.com:abc",
            "example.com:",
            "example.com:99999",
            "example.com:65536",
            "example.com:+80",
            "example.com:000080",
            "[::1]:",
            "[::1]x",
            "[::1",
            "user@example.com",
        ] {
            assert_eq!(host_of(authority), None, "{authority}");
        }
    }
}

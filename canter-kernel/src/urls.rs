//! Service URLs as messages show them.

/// `url` fit for logs and error messages: a password (`redis://:secret@host`) is hidden.
pub fn redacted(url: &str) -> String {
    let Some(scheme) = url.find("://").map(|at| at + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme..];
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    // The last `@` of the authority: a password may hold one (unencoded) too.
    match authority.rfind('@') {
        Some(at) => format!("{}***{}", &url[..scheme], &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn passwords_are_hidden_and_the_rest_kept() {
        assert_eq!(
            redacted("redis://:s3cr@t@redis.example:6379/0"),
            "redis://***@redis.example:6379/0"
        );
        assert_eq!(
            redacted("redis://host:6379/0?name=a@b"),
            "redis://host:6379/0?name=a@b"
        );
        assert_eq!(redacted("memory://"), "memory://");
        assert_eq!(redacted("not a url"), "not a url");
    }
}

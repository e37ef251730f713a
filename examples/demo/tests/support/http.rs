//! A small blocking HTTP/1.1 client with a cookie jar, for tests of a demo process (the ops
//! dashboard's): status, headers, body (chunked bodies joined), cookies kept between calls.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use serde_json::Value;

/// One HTTP response: status, headers (lower-case names), body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, self.body))
    }
}

/// A client of one server: a cookie jar and `METHOD path` over fresh connections.
pub struct Http {
    addr: String,
    /// The cookies the server set, by name.
    pub cookies: BTreeMap<String, String>,
}

impl Http {
    pub fn new(addr: &str) -> Self {
        Http {
            addr: addr.to_owned(),
            cookies: BTreeMap::new(),
        }
    }

    /// `METHOD path` with `headers` and `body` over a fresh connection, cookies sent and kept.
    pub fn call(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut stream = std::net::TcpStream::connect(&self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            request.push_str(&format!("Cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        request.push_str(body);
        stream.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").expect("a response head");
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap()[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        for (_, cookie) in headers.iter().filter(|(n, _)| n == "set-cookie") {
            if let Some((name, value)) = cookie.split(';').next().and_then(|c| c.split_once('=')) {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub fn get(&mut self, path: &str) -> Reply {
        self.call("GET", path, &[], "")
    }

    /// `GET path` with `Authorization: Bearer <token>`.
    pub fn get_bearer(&mut self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.call("GET", path, &[("Authorization", &auth)], "")
    }

    /// `POST path` (no body) with `Authorization: Bearer <token>`.
    pub fn post_bearer(&mut self, path: &str, token: &str) -> Reply {
        let auth = format!("Bearer {token}");
        self.call("POST", path, &[("Authorization", &auth)], "")
    }

    /// Logs in through the login form.
    pub fn log_in(&mut self, username: &str, password: &str) {
        let page = self.get("/accounts/login/").body;
        let at = page.find("name=\"csrfmiddlewaretoken\" value=\"").unwrap() + 34;
        let token = page[at..at + 64].to_owned();
        let form = format!(
            "username={username}&password={}&csrfmiddlewaretoken={token}",
            password.replace(' ', "+")
        );
        let r = self.call(
            "POST",
            "/accounts/login/",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            &form,
        );
        assert_eq!(r.status, 302, "{}", r.body);
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || tail.len() < size {
            break;
        }
        out.push_str(&tail[..size]);
        rest = tail[size..].trim_start_matches("\r\n");
    }
    out
}

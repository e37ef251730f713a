//! One typed settings object, loaded once: defaults, then a TOML file, then `CANTER_*`
//! environment variables. Errors name the key.
//!
//! The file is `--settings FILE`, else `$CANTER_SETTINGS`, else `canter.toml` in the working
//! directory if it exists. An environment variable `CANTER_DEBUG=true` sets `debug`;
//! `CANTER_SERVER__BIND=0.0.0.0:8000` sets `bind` in `[server]` (a double underscore enters a
//! section). Values are read as TOML (`true`, `42`, `["a", "b"]`) and otherwise as text; a
//! comma-separated text sets a list (`CANTER_ALLOWED_HOSTS=example.com,.example.org`).
//!
//! Each part of canter reads its own section: the core reads the top level, `[server]`,
//! `[stall]`, `[security]` and `[cors]`; other parts use [`Settings::section`].
//!
//! ```toml
//! debug = true
//! secret_key = "change me"
//! allowed_hosts = ["localhost", "127.0.0.1"]
//! middleware = ["canter.request_id", "canter.logging", "canter.security"]
//!
//! [server]
//! bind = "127.0.0.1:8000"
//! max_body_size = 2621440
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A settings problem: which key, and what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The settings file could not be read or is not valid TOML.
    #[error("settings file {path}: {message}")]
    File {
        /// The file, as given or found.
        path: PathBuf,
        /// What went wrong (the I/O or TOML parser's message).
        message: String,
    },
    /// A setting has a value it cannot take (or a required one is missing).
    #[error("setting `{key}`: {message}")]
    Invalid {
        /// The setting's key, dotted (`server.bind`); empty when the whole file is at fault.
        key: String,
        /// Why the value is refused.
        message: String,
    },
}

fn invalid(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// The settings of a canter project (Django's `settings.py`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Django's `DEBUG`: detailed error pages, the stall detector, relaxed `allowed_hosts`.
    pub debug: bool,
    /// Django's `SECRET_KEY`; required when `debug` is off.
    pub secret_key: Option<String>,
    /// Django's `ALLOWED_HOSTS`: `"example.com"`, `".example.com"` (and subdomains), `"*"`.
    /// Empty with `debug` on means `localhost`, `127.0.0.1` and `[::1]`, as in Django.
    pub allowed_hosts: Vec<String>,
    /// Django's `APPEND_SLASH`: `/about` redirects to `/about/` when only that one exists.
    pub append_slash: bool,
    /// Django's `MIDDLEWARE`: names of middleware, outermost first (`canter.request_id`,
    /// `canter.logging`, `canter.security`, `canter.gzip`, `canter.cors`, or a name an app
    /// registered). Middleware added in code with `App::middleware` runs inside these.
    pub middleware: Vec<String>,
    /// `[server]`: where and how the server listens (address, workers, limits, timeouts).
    pub server: ServerSettings,
    /// `[stall]`: the runtime-stall detector (on with `debug` unless set).
    pub stall: StallSettings,
    /// `[security]`: the `canter.security` middleware's headers and HTTPS redirect.
    pub security: SecuritySettings,
    /// `[cors]`: the `canter.cors` middleware's origins, methods and headers.
    pub cors: CorsSettings,
    /// Sections for the other parts (`[database]`, `[channels]`, `[tasks]`, …) and the
    /// project's own, read with [`Settings::section`].
    #[serde(flatten)]
    pub sections: toml::Table,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            debug: false,
            secret_key: None,
            allowed_hosts: Vec::new(),
            append_slash: true,
            middleware: Vec::new(),
            server: ServerSettings::default(),
            stall: StallSettings::default(),
            security: SecuritySettings::default(),
            cors: CorsSettings::default(),
            sections: toml::Table::new(),
        }
    }
}

/// `[server]`: the listener and its limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Where `runserver` listens when given no address.
    pub bind: String,
    /// Largest request body in bytes; larger → 413 (Django's `DATA_UPLOAD_MAX_MEMORY_SIZE`).
    pub max_body_size: usize,
    /// Largest `multipart/form-data` body in bytes (file uploads), which takes the place of
    /// `max_body_size` for such a body; larger → 413. The non-file fields inside it are still
    /// held to `max_body_size` by the form parser (Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` does
    /// not count files either).
    pub max_upload_size: usize,
    /// Most fields a query string may have (`a=1&b=2` has two); more → 400 before any view
    /// runs (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS`).
    pub max_number_fields: usize,
    /// Largest request head (request line and headers) in bytes; larger → 431. At least 8192.
    pub max_header_size: usize,
    /// Seconds a client has to send its request head; slower (slowloris) → connection closed.
    pub header_read_timeout: f64,
    /// Seconds an idle kept-alive connection stays open between requests.
    pub keep_alive_timeout: f64,
    /// Seconds in-flight requests get to finish after SIGINT/SIGTERM.
    pub shutdown_timeout: f64,
    /// Serve HTTP/2 (prior knowledge, h2c) beside HTTP/1.1.
    pub http2: bool,
    /// Seconds a view reading the request body waits for more of it; longer → 408 (and an
    /// HTTP/1 connection is closed).
    pub body_read_timeout: f64,
    /// Bytes per second a request body must keep up: after its first `body_read_timeout`,
    /// each this many bytes buy one more second (Apache's `MinRate`); slower → 408. 0: none.
    pub body_min_rate: u64,
    /// Connections served at once; with all taken the server stops accepting (new clients wait
    /// in the listen backlog) until one closes. Unset: the open-file limit (RLIMIT_NOFILE)
    /// less a quarter of it, at most 1,024 (768 of 1,024).
    pub max_connections: Option<usize>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8000".into(),
            max_body_size: 2_621_440,
            max_upload_size: 10 * 1024 * 1024,
            max_number_fields: 1000,
            max_header_size: 16 * 1024,
            header_read_timeout: 10.0,
            keep_alive_timeout: 5.0,
            shutdown_timeout: 30.0,
            http2: true,
            body_read_timeout: 10.0,
            body_min_rate: 500,
            max_connections: None,
        }
    }
}

/// `[stall]`: the runtime-stall detector.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StallSettings {
    /// On or off; unset means "on when `debug` is on".
    pub enabled: Option<bool>,
    /// A poll longer than this many milliseconds is reported.
    pub threshold_ms: u64,
}

impl Default for StallSettings {
    fn default() -> Self {
        Self {
            enabled: None,
            threshold_ms: 10,
        }
    }
}

/// `[security]`: headers of the `canter.security` middleware (Django's `SECURE_*`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecuritySettings {
    /// `Strict-Transport-Security: max-age=N` when above 0 (Django's `SECURE_HSTS_SECONDS`).
    pub hsts_seconds: u64,
    /// `; includeSubDomains` on the HSTS header (Django's `SECURE_HSTS_INCLUDE_SUBDOMAINS`).
    pub hsts_include_subdomains: bool,
    /// `X-Content-Type-Options: nosniff`.
    pub content_type_nosniff: bool,
    /// `X-Frame-Options` (Django's `X_FRAME_OPTIONS`): `DENY` or `SAMEORIGIN`.
    pub frame_options: String,
    /// `Referrer-Policy` (Django's `SECURE_REFERRER_POLICY`).
    pub referrer_policy: String,
    /// `Cross-Origin-Opener-Policy` (Django's `SECURE_CROSS_ORIGIN_OPENER_POLICY`).
    pub cross_origin_opener_policy: String,
    /// `; preload` on the HSTS header (Django's `SECURE_HSTS_PRELOAD`).
    pub hsts_preload: bool,
    /// Redirect (301) every plain-HTTP request to HTTPS (Django's `SECURE_SSL_REDIRECT`).
    pub ssl_redirect: bool,
    /// The host to redirect to instead of the request's (Django's `SECURE_SSL_HOST`).
    pub ssl_host: Option<String>,
    /// A header and value that a trusted proxy sets on HTTPS requests, e.g.
    /// `["X-Forwarded-Proto", "https"]` (Django's `SECURE_PROXY_SSL_HEADER`). Only set it
    /// behind a proxy that strips the header from clients.
    pub proxy_ssl_header: Option<(String, String)>,
    /// A `Content-Security-Policy` header value (Django 6's `SECURE_CSP`, as one string).
    pub content_security_policy: String,
    /// `Content-Security-Policy-Report-Only` (Django 6's `SECURE_CSP_REPORT_ONLY`).
    pub content_security_policy_report_only: String,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self {
            hsts_seconds: 0,
            hsts_include_subdomains: false,
            content_type_nosniff: true,
            frame_options: "DENY".into(),
            referrer_policy: "same-origin".into(),
            cross_origin_opener_policy: "same-origin".into(),
            hsts_preload: false,
            ssl_redirect: false,
            ssl_host: None,
            proxy_ssl_header: None,
            content_security_policy: String::new(),
            content_security_policy_report_only: String::new(),
        }
    }
}

/// `[cors]`: the `canter.cors` middleware (django-cors-headers' settings).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsSettings {
    /// Origins allowed, `"*"` for any.
    pub allowed_origins: Vec<String>,
    /// Methods a cross-origin request may use (`Access-Control-Allow-Methods`).
    pub allowed_methods: Vec<String>,
    /// Request headers a cross-origin request may send (`Access-Control-Allow-Headers`).
    pub allowed_headers: Vec<String>,
    /// `Access-Control-Allow-Credentials: true`: cookies on cross-origin requests (not with
    /// `"*"` origins).
    pub allow_credentials: bool,
    /// Seconds browsers may cache a preflight answer.
    pub max_age: u64,
}

impl Default for CorsSettings {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
                .map(String::from)
                .to_vec(),
            allowed_headers: [
                "accept",
                "authorization",
                "content-type",
                "x-requested-with",
                "x-request-id",
            ]
            .map(String::from)
            .to_vec(),
            allow_credentials: false,
            max_age: 86_400,
        }
    }
}

impl Settings {
    /// Loads settings for a command: `file` (or `$CANTER_SETTINGS`, or `./canter.toml` if
    /// present), then the process environment. Validates the result.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        Self::load_layered("", Self::discover_file(file).as_deref())
    }

    /// The settings file to read: `explicit`, else `$CANTER_SETTINGS`, else `./canter.toml`
    /// if it exists, else none.
    pub fn discover_file(explicit: Option<&Path>) -> Option<PathBuf> {
        explicit
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("CANTER_SETTINGS").map(PathBuf::from))
            .or_else(|| Some(PathBuf::from("canter.toml")).filter(|p| p.exists()))
    }

    /// Like [`load`](Self::load), with the project's own settings (`base`, TOML text that the
    /// binary embeds, as Django's `settings.py` lives in the project) under the file.
    pub fn load_layered(base: &str, file: Option<&Path>) -> Result<Self, SettingsError> {
        let mut table: toml::Table = base.parse().map_err(|e: toml::de::Error| {
            invalid("", format!("the app's embedded settings: {}", e.message()))
        })?;
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|e| SettingsError::File {
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            let overlay: toml::Table =
                text.parse()
                    .map_err(|e: toml::de::Error| SettingsError::File {
                        path: path.to_owned(),
                        message: e.to_string(),
                    })?;
            merge(&mut table, overlay);
        }
        let settings = Self::from_table_and_env(table, std::env::vars())?;
        settings.validate()?;
        Ok(settings)
    }

    /// Parses TOML text, then applies `CANTER_*` variables from `env`. Does not validate.
    pub fn from_toml_and_env(
        text: &str,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| invalid("", e.message().to_owned()))?;
        Self::from_table_and_env(table, env)
    }

    fn from_table_and_env(
        mut table: toml::Table,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut env: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("CANTER_"))
            .collect();
        env.sort();
        for (name, value) in env {
            let key: Vec<String> = name["CANTER_".len()..]
                .split("__")
                .map(|s| s.to_ascii_lowercase())
                .collect();
            // A single-word variable that names no setting (CANTER_SETTINGS,
            // CANTER_TEST_POSTGRES_URL, a tool's own) is not a setting; section paths (with
            // `__`) always are.
            if key.len() == 1 && !TOP_LEVEL_KEYS.contains(&key[0].as_str()) {
                continue;
            }
            set_path(&mut table, &key, parse_env_value(&value));
        }
        let settings = deserialize_named(toml::Value::Table(table))?;
        // Unknown top-level keys land in `sections`; only tables belong there, so a typo such
        // as `degub = true` is an error rather than silently ignored.
        if let Some((key, _)) = settings.sections.iter().find(|(_, v)| !v.is_table()) {
            return Err(invalid(
                key,
                "unknown setting (other parts' settings go in a [section])",
            ));
        }
        Ok(settings)
    }

    /// Parses TOML text alone (tests and embedded configuration). Does not validate.
    pub fn from_toml(text: &str) -> Result<Self, SettingsError> {
        Self::from_toml_and_env(text, std::iter::empty())
    }

    /// Django's start-up checks: what must hold before serving.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !self.debug {
            match &self.secret_key {
                None => return Err(invalid("secret_key", "must be set when debug is false (CANTER_SECRET_KEY or secret_key in the settings file)")),
                Some(key) if key.trim().is_empty() => return Err(invalid("secret_key", "must not be empty")),
                _ => {}
            }
            if self.allowed_hosts.is_empty() {
                return Err(invalid(
                    "allowed_hosts",
                    "must be set when debug is false (for example [\"example.com\"])",
                ));
            }
        }
        for (i, host) in self.allowed_hosts.iter().enumerate() {
            if host.is_empty() || host.contains('/') || host.contains(char::is_whitespace) {
                return Err(invalid(
                    &format!("allowed_hosts[{i}]"),
                    format!("{host:?} is not a host name, \".domain\" or \"*\""),
                ));
            }
        }
        self.server
            .bind
            .parse::<SocketAddr>()
            .map_err(|e| invalid("server.bind", format!("{:?}: {e}", self.server.bind)))?;
        if self.server.max_header_size < 8192 {
            return Err(invalid(
                "server.max_header_size",
                "must be at least 8192 bytes",
            ));
        }
        for (key, value) in [
            (
                "server.header_read_timeout",
                self.server.header_read_timeout,
            ),
            ("server.keep_alive_timeout", self.server.keep_alive_timeout),
            ("server.shutdown_timeout", self.server.shutdown_timeout),
        ] {
            if !(value.is_finite() && value > 0.0) {
                return Err(invalid(
                    key,
                    format!("must be a positive number of seconds, not {value}"),
                ));
            }
        }
        if !(self.server.body_read_timeout.is_finite() && self.server.body_read_timeout > 0.0) {
            return Err(invalid(
                "server.body_read_timeout",
                format!(
                    "must be a positive number of seconds, not {}",
                    self.server.body_read_timeout
                ),
            ));
        }
        if self.server.max_connections == Some(0) {
            return Err(invalid(
                "server.max_connections",
                "must be at least 1 (unset: from the open-file limit)",
            ));
        }
        if !matches!(
            self.security.frame_options.as_str(),
            "DENY" | "SAMEORIGIN" | ""
        ) {
            return Err(invalid(
                "security.frame_options",
                "must be \"DENY\", \"SAMEORIGIN\" or \"\"",
            ));
        }
        Ok(())
    }

    /// The hosts requests may be addressed to, Django's defaults applied.
    pub fn effective_allowed_hosts(&self) -> Vec<String> {
        if self.allowed_hosts.is_empty() && self.debug {
            vec![".localhost".into(), "127.0.0.1".into(), "[::1]".into()]
        } else {
            self.allowed_hosts.clone()
        }
    }

    /// Whether the stall detector runs.
    pub fn stall_enabled(&self) -> bool {
        self.stall.enabled.unwrap_or(self.debug)
    }

    /// The stall detector's threshold when it runs (views, consumers and task bodies).
    pub fn stall_threshold(&self) -> Option<std::time::Duration> {
        self.stall_enabled()
            .then(|| std::time::Duration::from_millis(self.stall.threshold_ms))
    }

    /// Another part's section (`[database]`, …) as its own type; absent → `T::default()`.
    pub fn section<T: DeserializeOwned + Default>(&self, name: &str) -> Result<T, SettingsError> {
        match self.sections.get(name) {
            None => Ok(T::default()),
            Some(value) => serde_path_to_error::deserialize(value.clone()).map_err(|e| {
                let inner = e.path().to_string();
                let key = if inner == "." || inner.is_empty() {
                    name.to_owned()
                } else {
                    format!("{name}.{inner}")
                };
                invalid(&key, e.into_inner().to_string())
            }),
        }
    }

    /// Settings for tests: `debug` on, the test client's host allowed, a throwaway key.
    pub fn for_tests() -> Self {
        Self {
            debug: true,
            secret_key: Some("canter-tests-not-secret".into()),
            allowed_hosts: vec![
                "testserver".into(),
                ".localhost".into(),
                "127.0.0.1".into(),
                "[::1]".into(),
            ],
            ..Self::default()
        }
    }
}

fn deserialize_named(value: toml::Value) -> Result<Settings, SettingsError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string();
        // An unknown field is reported at its parent; name it in the key too.
        let key = match message.split('`').nth(1) {
            Some(field) if message.starts_with("unknown field") => {
                if key == "." {
                    field.to_owned()
                } else {
                    format!("{key}.{field}")
                }
            }
            _ => key,
        };
        invalid(&key, message)
    })
}

/// Overlays `top` on `base`, table by table (a key in `top` wins).
fn merge(base: &mut toml::Table, top: toml::Table) {
    for (key, value) in top {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(inner)), toml::Value::Table(top_inner)) => {
                merge(inner, top_inner)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    if let Ok(table) = format!("v = {raw}").parse::<toml::Table>() {
        if let Some(value) = table.get("v") {
            return value.clone();
        }
    }
    toml::Value::String(raw.to_owned())
}

fn set_path(table: &mut toml::Table, key: &[String], value: toml::Value) {
    let (last, parents) = key.split_last().expect("a non-empty key");
    let mut current = table;
    for part in parents {
        let entry = current
            .entry(part.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        current = entry.as_table_mut().expect("just made a table");
    }
    // A comma-separated text for a list setting becomes a list.
    let value = match value {
        toml::Value::String(text) if is_list_key(key) => toml::Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.into()))
                .collect(),
        ),
        other => other,
    };
    current.insert(last.clone(), value);
}

/// The settings at the top level, for telling our environment variables from others'.
const TOP_LEVEL_KEYS: &[&str] = &[
    "debug",
    "secret_key",
    "allowed_hosts",
    "append_slash",
    "middleware",
];

fn is_list_key(key: &[String]) -> bool {
    let joined = key.join(".");
    matches!(
        joined.as_str(),
        "allowed_hosts"
            | "middleware"
            | "cors.allowed_origins"
            | "cors.allowed_methods"
            | "cors.allowed_headers"
    )
}

#[cfg(test)]
mod tests;

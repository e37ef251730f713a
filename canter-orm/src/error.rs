//! The ORM's errors: Django's `DoesNotExist`, `MultipleObjectsReturned`, `IntegrityError`,
//! `ValidationError`, plus configuration and connection problems that name the database alias
//! (never the password).

use std::collections::BTreeMap;
use std::fmt;

/// Everything an ORM call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum OrmError {
    /// `get()` found nothing (Django's `Model.DoesNotExist`).
    #[error("{model} matching query does not exist")]
    DoesNotExist { model: &'static str },
    /// `get()` found more than one (Django's `MultipleObjectsReturned`).
    #[error("get() returned more than one {model}: it returned {count}")]
    MultipleObjectsReturned { model: &'static str, count: usize },
    /// A unique, foreign-key, not-null or check constraint refused the write.
    #[error("integrity error on database {alias:?}: {message}")]
    Integrity { alias: String, message: String },
    /// Field validation failed before the write.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// `DATABASES`-style configuration is wrong.
    #[error("database {alias:?} is improperly configured: {message}")]
    Config { alias: String, message: String },
    /// The database cannot be reached (or the pool timed out waiting for a connection).
    #[error("database {alias:?} ({url}) is unavailable: {message}")]
    Unavailable {
        alias: String,
        url: String,
        message: String,
    },
    /// A value from the database does not fit the model's field.
    #[error("column {column:?} of {model}: {message}")]
    Decode {
        model: &'static str,
        column: String,
        message: String,
    },
    /// A lookup or value that does not fit the field (from a query string, say).
    #[error("{0}")]
    InvalidLookup(String),
    /// Any other database error.
    #[error("database {alias:?}: {message}")]
    Database { alias: String, message: String },
}

impl OrmError {
    /// Whether this is Django's `DoesNotExist`.
    pub fn is_does_not_exist(&self) -> bool {
        matches!(self, OrmError::DoesNotExist { .. })
    }

    pub(crate) fn from_sqlx(alias: &str, url: &str, err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::Database(db) => {
                let message = db.message().to_owned();
                // SQLSTATE class 28, invalid authorization (MariaDB's "Access denied", PostgreSQL's
                // wrong password): no query can run with this configuration, as when the server
                // is unreachable. (SQLite's numeric codes never have five digits.)
                if db.code().is_some_and(|code| code.len() == 5 && code.starts_with("28")) {
                    return OrmError::Unavailable { alias: alias.to_owned(), url: url.to_owned(), message };
                }
                // SQLite reports ON DELETE RESTRICT as a plain constraint error (code 1811 or
                // 19) that sqlx does not classify; it is an integrity error all the same.
                let sqlite_constraint = matches!(db.code().as_deref(), Some("19" | "275" | "787" | "1811"))
                    || message.starts_with("FOREIGN KEY constraint failed")
                    || message.starts_with("CHECK constraint failed");
                // PostgreSQL's invalid_regular_expression: a `__regex` pattern its syntax
                // refuses is a bad lookup (400), not a server fault. (SQLite's are checked
                // before the query is sent: see the compiler.)
                // MariaDB's: "Regex error '…'" (ER_REGEXP_ERROR).
                if db.code().as_deref() == Some("2201B") || message.starts_with("Regex error") {
                    return OrmError::InvalidLookup(if message.starts_with("invalid regular expression") {
                        message
                    } else {
                        format!("invalid regular expression: {message}")
                    });
                }
                match db.kind() {
                    sqlx::error::ErrorKind::UniqueViolation
                    | sqlx::error::ErrorKind::ForeignKeyViolation
                    | sqlx::error::ErrorKind::NotNullViolation
                    | sqlx::error::ErrorKind::CheckViolation => OrmError::Integrity { alias: alias.to_owned(), message },
                    _ if sqlite_constraint => OrmError::Integrity { alias: alias.to_owned(), message },
                    _ => OrmError::Database { alias: alias.to_owned(), message },
                }
            }
            sqlx::Error::PoolTimedOut => OrmError::Unavailable {
                alias: alias.to_owned(),
                url: url.to_owned(),
                message: "timed out waiting for a connection from the pool (all connections busy, or the server is down)".into(),
            },
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed => {
                OrmError::Unavailable { alias: alias.to_owned(), url: url.to_owned(), message: err.to_string() }
            }
            _ => OrmError::Database { alias: alias.to_owned(), message: err.to_string() },
        }
    }
}

/// Django's `ValidationError`: messages by field name.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ValidationError {
    pub fields: BTreeMap<String, Vec<String>>,
}

impl ValidationError {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.fields
            .entry(field.to_owned())
            .or_default()
            .push(message.into());
    }
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
    pub fn into_result(self) -> Result<(), ValidationError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}: {}", v.join("; ")))
            .collect();
        write!(f, "validation failed: {}", parts.join(", "))
    }
}

impl std::error::Error for ValidationError {}

impl OrmError {
    /// The HTTP error a view should answer with: `DoesNotExist` → 404, validation and bad
    /// lookups → 400, integrity → 409, the rest → 500. (`?` alone gives 500, as an uncaught
    /// `DoesNotExist` does in Django; `QuerySet::get_or_404` is `get_object_or_404`.) The
    /// `http` feature.
    #[cfg(feature = "http")]
    pub fn into_http(self) -> canter_core::Error {
        let status = match &self {
            OrmError::DoesNotExist { .. } => 404,
            OrmError::Validation(_) | OrmError::InvalidLookup(_) => 400,
            OrmError::Integrity { .. } => 409,
            _ => 500,
        };
        let status = canter_core::http::StatusCode::from_u16(status).expect("a valid status");
        canter_core::Error::internal(self).with_status(status)
    }
}

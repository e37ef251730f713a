//! `canter.cors`: Cross-Origin Resource Sharing from the `[cors]` settings, through
//! tower-http's `CorsLayer` (preflight answered before the view; headers on every response).

use std::future::Future;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::{layer, LayerMiddleware, Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use crate::settings::{CorsSettings, SettingsError};

/// CORS headers and preflight answers from the `[cors]` settings (see the module docs).
pub struct Cors(LayerMiddleware<CorsLayer>);

impl Cors {
    /// The middleware for `settings`; an origin, method or header that does not parse (or
    /// `"*"` with credentials) is an error naming its key.
    pub fn from_settings(settings: &CorsSettings) -> Result<Self, SettingsError> {
        let bad = |key: &str, message: String| SettingsError::Invalid {
            key: format!("cors.{key}"),
            message,
        };
        let origin = if settings.allowed_origins.iter().any(|o| o == "*") {
            if settings.allow_credentials {
                return Err(bad(
                    "allowed_origins",
                    "\"*\" cannot be combined with allow_credentials = true".into(),
                ));
            }
            AllowOrigin::any()
        } else {
            let list = settings
                .allowed_origins
                .iter()
                .map(|o| {
                    HeaderValue::from_str(o)
                        .map_err(|_| bad("allowed_origins", format!("{o:?} is not an origin")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(list)
        };
        let methods = settings
            .allowed_methods
            .iter()
            .map(|m| {
                m.parse::<Method>()
                    .map_err(|_| bad("allowed_methods", format!("{m:?} is not a method")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let headers = settings
            .allowed_headers
            .iter()
            .map(|h| {
                h.parse::<HeaderName>()
                    .map_err(|_| bad("allowed_headers", format!("{h:?} is not a header name")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cors = CorsLayer::new()
            .allow_origin(origin)
            .allow_methods(methods)
            .allow_headers(headers)
            .allow_credentials(settings.allow_credentials)
            .max_age(Duration::from_secs(settings.max_age));
        Ok(Cors(layer(cors)))
    }
}

impl Middleware for Cors {
    fn call(&self, req: Request, next: Next) -> impl Future<Output = Response> + Send {
        self.0.call(req, next)
    }
}

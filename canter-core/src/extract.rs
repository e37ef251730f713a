//! Typed pieces of a request for views that read better without the whole [`Request`]:
//! [`Path`] (converted URL parameters), [`State`] (app state), and axum's [`Query`], [`Json`]
//! and [`Form`]. A view may take several, in any order, and at most one body extractor, last.
//!
//! Malformed input is answered before the view runs: invalid JSON → 400, a JSON body of the
//! wrong shape → 422, a missing `Content-Type: application/json` → 415, a body over
//! `server.max_body_size` → 413.
//!
//! [`Request`]: crate::Request

use std::ops::Deref;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use axum::extract::{Form, Query};
pub use axum::Json;

use crate::error::Error;
use crate::request::RequestContext;

/// The route's converted parameters: `Path<i64>` for one, `Path<(i64, String)>` in pattern
/// order, or `Path<S>` for a struct with a field per parameter name.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<()> for Path<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &()) -> Result<Self, Self::Rejection> {
        let route = RequestContext::of(&parts.extensions)
            .and_then(RequestContext::route)
            .ok_or_else(|| {
                Error::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    "Path used outside a routed view",
                )
            })?;
        let params = &route.params;
        let values = || Value::Array(params.iter().map(|(_, v)| v.clone()).collect());
        let attempt = if params.len() == 1 {
            serde_json::from_value(params[0].1.clone())
                .or_else(|_| serde_json::from_value(values()))
        } else {
            let object =
                Value::Object(params.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
            serde_json::from_value(object).or_else(|_| serde_json::from_value(values()))
        };
        attempt.map(Path).map_err(|e| {
            Error::bad_request(format!(
                "path parameters of {:?} do not fit the view: {e}",
                route.pattern
            ))
        })
    }
}

impl<T> Deref for Path<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// App state registered with [`App::state`](crate::App::state): `State(db): State<Db>`.
#[derive(Debug)]
pub struct State<T>(pub Arc<T>);

impl<T> Clone for State<T> {
    fn clone(&self) -> Self {
        State(self.0.clone())
    }
}

impl<T: Send + Sync + 'static> FromRequestParts<()> for State<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &()) -> Result<Self, Self::Rejection> {
        RequestContext::of(&parts.extensions)
            .and_then(|context| context.app().state::<T>())
            .map(State)
            .ok_or_else(|| {
                Error::new(
                    http::StatusCode::INTERNAL_SERVER_ERROR,
                    format!(
                        "no app state of type {}: register it with App::state",
                        std::any::type_name::<T>()
                    ),
                )
            })
    }
}

impl<T> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

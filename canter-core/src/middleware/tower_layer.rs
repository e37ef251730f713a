//! Any tower `Layer` as a middleware: the layer wraps the rest of the chain for one call.

use std::convert::Infallible;
use std::future::Future;
use std::task::{Context, Poll};

use axum::response::IntoResponse;
use bytes::Bytes;
use futures_util::future::{BoxFuture, FutureExt, Map};
use tower::{Layer, Service, ServiceExt};

use super::{Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use crate::{Body, Error};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The rest of the chain as a tower `Service`, for layers to wrap.
#[derive(Clone)]
pub struct NextService(Next);

impl Service<Request> for NextService {
    type Response = Response;
    type Error = Infallible;
    type Future = Map<BoxFuture<'static, Response>, fn(Response) -> Result<Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request) -> Self::Future {
        self.0.clone().run(req).map(Ok)
    }
}

/// A tower layer in the middleware chain: `App::new().middleware(layer(TimeoutLayer::new(..)))`.
/// A layer's error becomes a 500.
pub fn layer<L>(layer: L) -> LayerMiddleware<L> {
    LayerMiddleware(layer)
}

/// See [`layer`].
pub struct LayerMiddleware<L>(L);

impl<L, B> Middleware for LayerMiddleware<L>
where
    L: Layer<NextService> + Send + Sync + 'static,
    L::Service: Service<Request, Response = http::Response<B>> + Send + 'static,
    <L::Service as Service<Request>>::Future: Send,
    <L::Service as Service<Request>>::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn call(&self, req: Request, next: Next) -> impl Future<Output = Response> + Send {
        let service = self.0.layer(NextService(next));
        async move {
            match service.oneshot(req).await {
                Ok(response) => response.map(Body::new),
                Err(err) => {
                    let err: BoxError = err.into();
                    Error::new(
                        http::StatusCode::INTERNAL_SERVER_ERROR,
                        format!("middleware layer failed: {err}"),
                    )
                    .into_response()
                }
            }
        }
    }
}

//! HTTP middleware: request metrics, authentication before bodies, body deadlines, no
//! chunked bodies.

use std::time::Instant;

use actix_web::body::EitherBody;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError};

use super::ApiError;
use crate::auth::{Principal, Role};
use crate::state::AppState;
use crate::telemetry::{HttpLabels, RouteLabels};

/// The method as a metric label, from a fixed set: a client inventing methods must not
/// add series to /metrics.
fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Counts requests and their latency by method, route pattern and status: every label
/// comes from a fixed set (the route table, `unmatched`, the methods above).
pub async fn track_http(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = method_label(req.method()).to_string();
    let metrics = req
        .app_data::<actix_web::web::Data<AppState>>()
        .map(|s| s.metrics.clone());
    let res = match next.call(req).await {
        Ok(res) => res,
        Err(e) => {
            // An error no handler turned into a response: count it all the same.
            if let Some(metrics) = metrics {
                let status = e.as_response_error().status_code().as_u16().to_string();
                metrics
                    .http_requests
                    .get_or_create(&HttpLabels {
                        method,
                        route: "unmatched".into(),
                        status,
                    })
                    .inc();
            }
            return Err(e);
        }
    };
    if let Some(metrics) = metrics {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let status = res.status().as_u16().to_string();
        metrics
            .http_duration
            .get_or_create(&RouteLabels {
                method: method.clone(),
                route: route.clone(),
            })
            .observe(started.elapsed().as_secs_f64());
        metrics
            .http_requests
            .get_or_create(&HttpLabels {
                method,
                route,
                status,
            })
            .inc();
    }
    Ok(res)
}

/// Credentials before bodies: every /api/v1 request is authenticated here, before its
/// handler reads a byte of its body. The webhook needs the webhook token; other routes an
/// API token, or nothing for reads when `auth.anonymous_read` allows it. A request that
/// cannot be allowed whatever its body says (a bad token, an anonymous write) is refused
/// at once, so nobody without credentials gets a body parsed or buffered.
pub async fn authenticate(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    match check(&req).await {
        // Answered here, as a response: the request metrics see it like any other.
        Err(e) => Ok(req.into_response(e.error_response()).map_into_right_body()),
        Ok(principal) => {
            if let Some(p) = principal {
                req.extensions_mut().insert(p);
            }
            Ok(next.call(req).await?.map_into_left_body())
        }
    }
}

/// The request's principal (None for the webhook, whose token is not a principal), or why
/// it is refused.
async fn check(req: &ServiceRequest) -> Result<Option<Principal>, ApiError> {
    let state = req
        .app_data::<actix_web::web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::Internal("no app state".into()))?;
    let token = super::bearer(req.request());
    if req.path() == WEBHOOK_PATH {
        if token
            .as_deref()
            .is_some_and(|t| crate::auth::secrets_equal(t, &state.webhook_token))
        {
            return Ok(None);
        }
        // A responder's API token may post alerts too (`firewatch drill` does).
        let principal = match &token {
            Some(t) => state.token_principal(t).await?,
            None => None,
        };
        if !principal.as_ref().is_some_and(|p| p.can(Role::Responder)) {
            state
                .metrics
                .webhook_requests
                .get_or_create(&crate::telemetry::OutcomeLabel {
                    outcome: "rejected".into(),
                })
                .inc();
            return Err(ApiError::Unauthorized(
                "missing or wrong webhook token (alertmanager.webhook_token), and no \
                 responder's API token"
                    .into(),
            ));
        }
        return Ok(principal);
    }
    let principal = match token {
        Some(t) => state
            .token_principal(&t)
            .await?
            .ok_or_else(|| ApiError::Unauthorized("unknown or revoked API token".into()))?,
        None if req.headers().contains_key(header::AUTHORIZATION) => {
            return Err(ApiError::Unauthorized(
                "the Authorization header must be `Bearer TOKEN`".into(),
            ));
        }
        None => Principal::Anonymous,
    };
    if principal == Principal::Anonymous && !matches!(*req.method(), Method::GET | Method::HEAD) {
        return Err(ApiError::Unauthorized(
            "send an API token as Authorization: Bearer TOKEN".into(),
        ));
    }
    Ok(Some(principal))
}

/// The webhook's route.
pub const WEBHOOK_PATH: &str = "/api/v1/alerts/alertmanager";

/// A request body that must arrive before a deadline (`server.body_timeout` from when the
/// handler starts reading it); a stalled body fails with a timeout instead of holding its
/// connection and buffer forever.
struct Deadline<S> {
    inner: S,
    limit: std::time::Duration,
    deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl<S> futures_util::Stream for Deadline<S>
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, PayloadError>> + Unpin,
{
    type Item = Result<actix_web::web::Bytes, PayloadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        use std::future::Future;
        let limit = self.limit;
        let deadline = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        if deadline.as_mut().poll(cx).is_ready() {
            return std::task::Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time (server.body_timeout)",
            )))));
        }
        std::pin::Pin::new(&mut self.inner).poll_next(cx)
    }
}

/// Puts every request body under `server.body_timeout`.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let limit = req
        .app_data::<actix_web::web::Data<AppState>>()
        .map(|s| s.settings.body_timeout)
        .unwrap_or(std::time::Duration::from_secs(10));
    let inner = req.take_payload();
    let stream = Deadline {
        inner,
        limit,
        deadline: None,
    };
    req.set_payload(actix_web::dev::Payload::Stream {
        payload: Box::pin(stream),
    });
    next.call(req).await
}

/// Refuses request bodies sent with `Transfer-Encoding` (411, connection closed).
///
/// actix-http (3.20.0, the newest release) reads a chunked body ending in `0\r\n\n` as
/// "trailers follow" and swallows the pipelined request after it as trailer lines, so a
/// proxy in front that ends the body there and the server disagree about where requests
/// start (request smuggling). No fixed release exists. Every client Firewatch serves sends
/// `Content-Length` (Alertmanager, browsers, curl, the CLI), so the root fix is to accept
/// only that: the body is never read and the connection is closed, so nothing after it
/// can be taken for a request.
pub async fn length_delimited(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.headers().contains_key(header::TRANSFER_ENCODING) {
        let mut res = ApiError::LengthRequired(
            "send the body with Content-Length; Transfer-Encoding is not accepted".into(),
        )
        .error_response();
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(req.into_response(res).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
}

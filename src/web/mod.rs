//! Server-rendered HTML pages (askama) and embedded static assets. One file per resource;
//! view models live in `views.rs`. Handlers call the same service methods as the API.

mod action_items;
mod admin;
mod error;
mod healing;
mod home;
mod incident_list;
mod incidents;
mod integrations;
mod jobs;
mod login;
mod oncall;
mod postmortems;
mod reports;
mod runbooks;
pub mod session;
mod slo_charts;
mod slos;
mod views;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use rust_embed::RustEmbed;

use crate::api::ApiError;
pub use error::WebError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// The route table.
/// Form bodies up to `limit` bytes; a form that is too large or malformed gets an error
/// page, not plain text.
pub fn form_config(limit: usize) -> web::FormConfig {
    use actix_web::error::UrlencodedError;
    web::FormConfig::default()
        .limit(limit)
        .error_handler(|err, _req| {
            let api = match &err {
                UrlencodedError::Overflow { .. } => ApiError::PayloadTooLarge(
                    "The form is larger than this server accepts (server.max_body_bytes).".into(),
                ),
                UrlencodedError::Payload(actix_web::error::PayloadError::Io(e))
                    if e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    ApiError::Timeout("The form did not arrive in time.".into())
                }
                other => ApiError::BadRequest(format!("The form could not be read: {other}")),
            };
            WebError::Api(api).into()
        })
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", crate::api::get().to(home::home))
        .route("/incidents", crate::api::get().to(incident_list::list))
        .route("/incidents", web::post().to(incidents::create))
        .route("/incidents/new", crate::api::get().to(incidents::new))
        .route("/incidents/{id}", crate::api::get().to(incidents::detail))
        .route(
            "/incidents/{id}/alerts",
            crate::api::get().to(incidents::alerts),
        )
        .route(
            "/incidents/{id}/timeline",
            crate::api::get().to(incidents::timeline),
        )
        .route(
            "/incidents/{id}/postmortem",
            web::post().to(postmortems::start),
        )
        .route(
            "/incidents/{id}/{action}",
            web::post().to(incidents::action),
        )
        .route("/login", crate::api::get().to(login::page))
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .route("/integrations", crate::api::get().to(integrations::page))
        .route(
            "/integrations/{name}/test",
            web::post().to(integrations::test),
        )
        .route(
            "/integrations/notifications/{id}/retry",
            web::post().to(integrations::retry),
        )
        .route(
            "/integrations/silences",
            web::post().to(integrations::create_silence),
        )
        .route(
            "/integrations/silences/{id}/expire",
            web::post().to(integrations::expire_silence),
        )
        .route(
            "/integrations/prometheus",
            crate::api::get().to(integrations::prometheus),
        )
        .route(
            "/integrations/prometheus/{artefact}",
            crate::api::get().to(integrations::download),
        )
        .route("/slos", crate::api::get().to(slos::index))
        .route("/slos/{name}", crate::api::get().to(slos::page))
        .route("/runbooks", crate::api::get().to(runbooks::list))
        .route("/oncall", crate::api::get().to(oncall::page))
        .route("/postmortems", crate::api::get().to(postmortems::list))
        .route("/postmortems/{id}", crate::api::get().to(postmortems::page))
        .route("/postmortems/{id}", web::post().to(postmortems::save))
        .route(
            "/postmortems/{id}/action-items",
            web::post().to(action_items::add),
        )
        .route("/action-items", crate::api::get().to(action_items::list))
        .route("/action-items.csv", crate::api::get().to(action_items::csv))
        .route(
            "/postmortems/{id}/markdown",
            crate::api::get().to(postmortems::markdown),
        )
        .route("/action-items/{id}", web::post().to(action_items::update))
        .route("/oncall/card.pdf", crate::api::get().to(oncall::pdf))
        .route("/oncall/card.md", crate::api::get().to(oncall::markdown))
        .route("/runbooks/{name}", crate::api::get().to(runbooks::page))
        .route("/admin", crate::api::get().to(admin::page))
        .route("/admin/tokens", web::post().to(admin::create_token))
        .route(
            "/admin/tokens/{id}/revoke",
            web::post().to(admin::revoke_token),
        )
        .route("/admin/users", web::post().to(admin::add_user))
        .route("/admin/jobs", crate::api::get().to(jobs::page))
        .route("/healing", crate::api::get().to(healing::page))
        .route("/healing/{switch}", web::post().to(healing::switch))
        .route("/reports", crate::api::get().to(reports::list))
        .route("/reports", web::post().to(reports::generate))
        .route(
            "/reports/{month}.{ext}",
            crate::api::get().to(reports::download),
        )
        .route("/reports/{month}", crate::api::get().to(reports::page))
        .route("/admin/jobs/{name}/run", web::post().to(jobs::run))
        .route(
            "/admin/users/{name}/{action}",
            web::post().to(admin::user_action),
        )
        .route("/static/{path:.*}", crate::api::get().to(asset))
        .route("/favicon.ico", crate::api::get().to(favicon))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(WebError::NotFound(
                "There is no page at this address.".into(),
            ))
        }));
}

async fn asset(path: web::Path<String>) -> HttpResponse {
    serve_asset(&path)
}

async fn favicon() -> HttpResponse {
    serve_asset("favicon.svg")
}

fn serve_asset(path: &str) -> HttpResponse {
    match Assets::get(path) {
        Some(file) => HttpResponse::Ok()
            .content_type(file.metadata.mimetype())
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .insert_header((
                header::ETAG,
                format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..8])),
            ))
            .body(file.data.into_owned()),
        None => HttpResponse::NotFound().finish(),
    }
}

pub(crate) fn html<T: Template>(t: &T) -> Result<HttpResponse, WebError> {
    let body = t.render().map_err(|e| WebError::internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

pub(crate) fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, to))
        .finish()
}

/// A page with a status other than 200 (a form re-rendered with its error).
pub(crate) fn html_status<T: Template>(
    t: &T,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, WebError> {
    let mut res = html(t)?;
    *res.status_mut() = status;
    Ok(res)
}

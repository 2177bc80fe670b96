//! Server-rendered HTML pages (askama) and embedded static assets. One file per resource;
//! view models live in `views.rs`. Handlers call the same service methods as the API.

mod admin;
mod charts;
mod error;
mod home;
mod incidents;
mod integrations;
mod login;
mod runbooks;
pub mod session;
mod slo_charts;
mod slos;
mod views;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use rust_embed::RustEmbed;

pub use error::WebError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// The route table.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::home))
        .route("/incidents", web::get().to(incidents::list))
        .route("/incidents", web::post().to(incidents::create))
        .route("/incidents/new", web::get().to(incidents::new))
        .route("/incidents/{id}", web::get().to(incidents::detail))
        .route("/incidents/{id}/alerts", web::get().to(incidents::alerts))
        .route(
            "/incidents/{id}/timeline",
            web::get().to(incidents::timeline),
        )
        .route(
            "/incidents/{id}/{action}",
            web::post().to(incidents::action),
        )
        .route("/login", web::get().to(login::page))
        .route("/login", web::post().to(login::login))
        .route("/logout", web::post().to(login::logout))
        .route("/integrations", web::get().to(integrations::page))
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
            web::get().to(integrations::prometheus),
        )
        .route(
            "/integrations/prometheus/{artefact}",
            web::get().to(integrations::download),
        )
        .route("/slos/{name}", web::get().to(slos::page))
        .route("/runbooks", web::get().to(runbooks::list))
        .route("/runbooks/{name}", web::get().to(runbooks::page))
        .route("/admin", web::get().to(admin::page))
        .route("/admin/tokens", web::post().to(admin::create_token))
        .route(
            "/admin/tokens/{id}/revoke",
            web::post().to(admin::revoke_token),
        )
        .route("/admin/users", web::post().to(admin::add_user))
        .route("/static/{path:.*}", web::get().to(asset))
        .route("/favicon.ico", web::get().to(favicon))
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

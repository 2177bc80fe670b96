//! The replicas sharing the database and which one leads.

use actix_web::{HttpResponse, web};

use super::{ApiError, Caller};
use crate::auth::Role;
use crate::state::AppState;

/// `{"backend","instance","leader","members":[{"instance","started_at","last_seen","leader"}]}`.
pub async fn status(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    caller.require(Role::Viewer)?;
    Ok(HttpResponse::Ok().json(state.cluster.status().await?))
}

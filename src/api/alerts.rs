//! The Alertmanager webhook: the token is checked before the body is read (by the API's
//! authentication middleware); the answer is 200 only once the notification's changes
//! are committed.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::ApiError;
use super::json_text::JsonText;
use crate::alerts::WebhookMessage;
use crate::state::AppState;
use crate::telemetry::{OutcomeLabel, StatusLabel};

pub async fn alertmanager_webhook(
    state: web::Data<AppState>,
    body: JsonText<WebhookMessage>,
) -> Result<HttpResponse, ApiError> {
    let outcome = |o: &str| {
        state
            .metrics
            .webhook_requests
            .get_or_create(&OutcomeLabel { outcome: o.into() })
            .inc();
    };
    let JsonText(mut msg) = body;
    let alerts = match msg.validate() {
        Ok(a) => a,
        Err(e) => {
            outcome("rejected");
            return Err(e.into());
        }
    };
    let firing = alerts.iter().filter(|a| a.firing).count() as u64;
    let resolved = alerts.len() as u64 - firing;
    match state.intake.apply(msg, alerts, "alertmanager", None).await {
        Ok(o) => {
            outcome("accepted");
            let m = &state.metrics.alerts_received;
            m.get_or_create(&StatusLabel {
                status: "firing".into(),
            })
            .inc_by(firing);
            m.get_or_create(&StatusLabel {
                status: "resolved".into(),
            })
            .inc_by(resolved);
            Ok(HttpResponse::Ok().json(json!({
                "status": "accepted",
                "incident_id": o.incident_id,
                "created": o.created,
                "reopened": o.reopened,
                "resolved": o.auto_resolved,
                "alerts_fired": o.alerts_fired,
                "alerts_resolved": o.alerts_resolved,
            })))
        }
        Err(e) => {
            outcome("error");
            Err(e.into())
        }
    }
}

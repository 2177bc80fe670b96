//! Which receivers hear of an incident event, and whether a silence or inhibition holds
//! the messages back. Runs inside the transaction of the incident change.

use std::collections::BTreeMap;

use super::{Event, NotifyConfig, outbox, silences};
use crate::config::ReceiverType;
use crate::db::{Conn, StoreResult};
use crate::incidents::Drill;
use crate::incidents::repo::{self as incidents, RoutingFacts};
use crate::incidents::timeline;
use crate::severity::Severity;

/// Why an incident's messages are held back, if they are.
fn held_back(
    conn: &Conn,
    cfg: &NotifyConfig,
    incident_id: i64,
    facts: &RoutingFacts,
    now: i64,
) -> StoreResult<Option<String>> {
    let RoutingFacts {
        severity,
        service,
        labels,
        ..
    } = facts;
    for silence in silences::active(conn, now)? {
        if matchers_hold(&silence.matchers, *severity, service, labels) {
            return Ok(Some(format!(
                "silenced by silence #{} ({}) until {}",
                silence.id,
                silence.comment,
                crate::time::short(silence.ends_at)
            )));
        }
    }
    if cfg.inhibit
        && *severity >= Severity::P2
        && !service.is_empty()
        && let Some(p0) = incidents::open_p0_for_service(conn, service, incident_id)?
    {
        return Ok(Some(format!(
            "inhibited: P0 incident #{p0} is open for service {service}"
        )));
    }
    Ok(None)
}

/// Which of `incident_ids` an active silence covers now: incident id → silence id.
pub fn silenced(
    conn: &Conn,
    incident_ids: &[i64],
    now: i64,
) -> StoreResult<std::collections::HashMap<i64, i64>> {
    let mut out = std::collections::HashMap::new();
    let active = silences::active(conn, now)?;
    if active.is_empty() {
        return Ok(out);
    }
    for &id in incident_ids {
        let Some(f) = incidents::routing_facts(conn, id)? else {
            continue;
        };
        if let Some(s) = active
            .iter()
            .find(|s| matchers_hold(&s.matchers, f.severity, &f.service, &f.labels))
        {
            out.insert(id, s.id);
        }
    }
    Ok(out)
}

/// Whether every matcher holds for an incident (`severity`, `service`, or a label).
pub fn matchers_hold(
    matchers: &BTreeMap<String, String>,
    severity: Severity,
    service: &str,
    labels: &BTreeMap<String, String>,
) -> bool {
    matchers.iter().all(|(k, v)| match k.as_str() {
        "severity" => v.eq_ignore_ascii_case(severity.as_str()),
        "service" => v == service,
        other => labels.get(other) == Some(v),
    })
}

/// Queues the notifications an incident event causes, inside the caller's transaction.
/// Escalations only reach receivers that have not heard of the incident yet; silences
/// and inhibition hold messages back and say so on the timeline.
pub fn enqueue(
    conn: &Conn,
    cfg: &NotifyConfig,
    incident_id: i64,
    event: Event,
    now: i64,
) -> StoreResult<usize> {
    if cfg.receivers.is_empty() {
        return Ok(0);
    }
    let Some(facts) = incidents::routing_facts(conn, incident_id)? else {
        return Ok(0);
    };
    let opening = matches!(
        event,
        Event::Triggered | Event::Escalated | Event::Reopened | Event::Reminder
    );
    if opening && let Some(why) = held_back(conn, cfg, incident_id, &facts, now)? {
        // Reminders are re-checked every tick; saying so each time would flood the timeline.
        if event == Event::Reminder {
            return Ok(0);
        }
        timeline::add(
            conn,
            incident_id,
            now,
            "notification_held",
            "firewatch",
            &format!("Notifications held back ({}): {why}", event.as_str()),
            None,
        )?;
        return Ok(0);
    }
    let mut n = 0;
    let mut not_paged: Vec<String> = Vec::new();
    for name in cfg.route(facts.severity, &facts.service, &facts.labels) {
        let Some(r) = cfg.receiver(&name) else {
            continue;
        };
        // A drill pages nobody unless it was started with --page.
        if facts.drill == Drill::Quiet && r.kind == ReceiverType::Pagerduty {
            not_paged.push(name);
            continue;
        }
        let already = outbox::has_opening_message(conn, incident_id, &name)?;
        let event = match event {
            // A receiver that never got the opening message gets it now.
            Event::Escalated if already => continue,
            Event::Escalated => Event::Triggered,
            // Acknowledgements and resolutions only go where the incident was announced.
            Event::Acknowledged | Event::Resolved | Event::Reminder if !already => continue,
            // PagerDuty escalates on its own; a repeated trigger would change nothing.
            Event::Reminder if r.kind == ReceiverType::Pagerduty => continue,
            e => e,
        };
        outbox::insert(
            conn,
            Some(incident_id),
            &name,
            r.channel(),
            event.as_str(),
            now,
        )?;
        n += 1;
    }
    if event == Event::Triggered && !not_paged.is_empty() {
        timeline::add(
            conn,
            incident_id,
            now,
            "notification_held",
            "firewatch",
            &format!(
                "Drill: PagerDuty not paged ({}); start the drill with --page to include it",
                not_paged.join(", ")
            ),
            None,
        )?;
    }
    Ok(n)
}

/// Open, unacknowledged P0 incidents whose last opening or reminder message (outside
/// PagerDuty, which escalates by itself) is older than `cutoff`.
pub fn reminders_due(conn: &Conn, cutoff: i64) -> StoreResult<Vec<i64>> {
    let mut due = Vec::new();
    for id in incidents::unacknowledged_p0(conn)? {
        if outbox::last_opening_at(conn, id)?.is_some_and(|at| at < cutoff) {
            due.push(id);
        }
    }
    Ok(due)
}

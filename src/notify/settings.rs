//! Notification settings, validated: receivers with their secrets, routes (the seed's
//! escalation policy when none are configured), SMTP and delivery timing.

use crate::config::{ReceiverType, Settings, SmtpSettings, parse_duration, read_secret};
use crate::severity::Severity;

use super::{NotifyConfig, Receiver, Route, Smtp};

const PAGERDUTY_URL: &str = "https://events.pagerduty.com/v2/enqueue";

fn secret(
    field: &str,
    value: &Option<String>,
    file: &Option<std::path::PathBuf>,
) -> Result<Option<String>, (String, String)> {
    match (value, file) {
        (Some(_), Some(_)) => Err((
            field.into(),
            format!("set {field} or {field}_file, not both"),
        )),
        (Some(v), None) => Ok(Some(v.trim().to_string())),
        (None, Some(f)) => read_secret(f)
            .map(Some)
            .map_err(|m| (format!("{field}_file"), m)),
        (None, None) => Ok(None),
    }
}

impl NotifyConfig {
    pub fn from_settings(s: &Settings) -> Result<Self, (String, String)> {
        let dur = |field: &str, v: &str| parse_duration(v).map_err(|m| (field.to_string(), m));
        let mut receivers = Vec::new();
        for (i, r) in s.receivers.iter().enumerate() {
            let at = |f: &str| format!("receiver[{i}] ({}).{f}", r.name);
            if r.name.trim().is_empty() || receivers.iter().any(|x: &Receiver| x.name == r.name) {
                return Err((at("name"), "must be present and unique".into()));
            }
            let url = secret("webhook_url", &r.webhook_url, &r.webhook_url_file)
                .map_err(|(f, m)| (at(&f), m))?;
            let routing_key = secret("routing_key", &r.routing_key, &r.routing_key_file)
                .map_err(|(f, m)| (at(&f), m))?;
            let hmac = secret("secret", &r.secret, &r.secret_file).map_err(|(f, m)| (at(&f), m))?;
            let need_url = |u: Option<String>, f: &str| match u {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => Ok(u),
                _ => Err((at(f), "an http(s) URL is required".to_string())),
            };
            let (url, routing_key) = match r.kind {
                ReceiverType::Slack | ReceiverType::Webhook => {
                    (need_url(url, "webhook_url")?, String::new())
                }
                ReceiverType::Pagerduty => {
                    let key = routing_key
                        .filter(|k| !k.is_empty())
                        .ok_or_else(|| (at("routing_key"), "is required".to_string()))?;
                    (
                        need_url(
                            Some(r.url.clone().unwrap_or_else(|| PAGERDUTY_URL.into())),
                            "url",
                        )?,
                        key,
                    )
                }
                ReceiverType::Email => {
                    if r.to.is_empty() || r.to.iter().any(|t| !t.contains('@')) {
                        return Err((at("to"), "list one or more email addresses".into()));
                    }
                    if s.smtp.is_none() {
                        return Err((at("type"), "email receivers need an [smtp] section".into()));
                    }
                    (String::new(), String::new())
                }
            };
            receivers.push(Receiver {
                name: r.name.clone(),
                kind: r.kind,
                url,
                routing_key,
                to: r.to.clone(),
                secret: hmac,
            });
        }
        let routes: Vec<Route> = if s.routes.is_empty() {
            default_routes(&receivers)
        } else {
            s.routes
                .iter()
                .map(|r| Route {
                    matchers: r.matchers.clone(),
                    receivers: r.receivers.clone(),
                    continue_matching: r.continue_matching,
                })
                .collect()
        };
        for (i, r) in routes.iter().enumerate() {
            for name in &r.receivers {
                if !receivers.iter().any(|x| x.name == *name) {
                    return Err((
                        format!("route[{i}].receivers"),
                        format!("no receiver named `{name}`"),
                    ));
                }
            }
            if let Some(sev) = r.matchers.get("severity")
                && sev.parse::<Severity>().is_err()
            {
                return Err((
                    format!("route[{i}].match.severity"),
                    format!("`{sev}` is not P0..P4"),
                ));
            }
        }
        let smtp = match &s.smtp {
            None => None,
            Some(SmtpSettings {
                host,
                port,
                tls,
                from,
                username,
                password,
                password_file,
            }) => Some(Smtp {
                host: host.clone(),
                port: *port,
                tls: *tls,
                from: from.clone(),
                username: username.clone(),
                password: secret("smtp.password", password, password_file)?,
            }),
        };
        // The monthly report's recipients: a receiver of their own that no route reaches.
        if receivers.iter().any(|r| r.name == super::REPORT_RECEIVER) {
            return Err((
                "receiver.name".into(),
                format!(
                    "`{}` is reserved for [reports] recipients",
                    super::REPORT_RECEIVER
                ),
            ));
        }
        if !s.reports.recipients.is_empty() {
            if smtp.is_none() {
                return Err((
                    "reports.recipients".into(),
                    "emailing the report needs an [smtp] section".into(),
                ));
            }
            receivers.push(Receiver {
                name: super::REPORT_RECEIVER.into(),
                kind: ReceiverType::Email,
                url: String::new(),
                routing_key: String::new(),
                to: s.reports.recipients.clone(),
                secret: None,
            });
        }
        let public_url = crate::config::public_url_of(&s.server);
        Ok(Self {
            receivers,
            routes,
            smtp,
            poll_interval: dur("notify.poll_interval", &s.notify.poll_interval)?,
            base_backoff: dur("notify.base_backoff", &s.notify.base_backoff)?,
            max_backoff: dur("notify.max_backoff", &s.notify.max_backoff)?,
            max_attempts: s.notify.max_attempts.max(1),
            timeout: dur("notify.timeout", &s.notify.timeout)?,
            reminder_interval: dur("notify.reminder_interval", &s.notify.reminder_interval)?,
            inhibit: s.notify.inhibit,
            public_url,
            max_silence: {
                let d = dur("notify.max_silence", &s.notify.max_silence)?;
                if d.is_zero() || d.as_millis() > super::silences::MAX_SILENCE_MS as u128 {
                    return Err(("notify.max_silence".into(), "between 1s and 366d".into()));
                }
                d
            },
            long_silence: dur("notify.long_silence", &s.notify.long_silence)?,
        })
    }
}

/// Without `[[route]]`s: P0 -> every PagerDuty receiver, the Slack receiver named
/// "incidents" and every email receiver; P1 -> Slack "incidents"; P2 -> Slack "alerts";
/// P3/P4 -> the UI only. Webhook receivers get everything from P0 to P2.
fn default_routes(receivers: &[Receiver]) -> Vec<Route> {
    let names = |f: &dyn Fn(&Receiver) -> bool| -> Vec<String> {
        receivers
            .iter()
            .filter(|r| f(r))
            .map(|r| r.name.clone())
            .collect()
    };
    let slack = |n: &'static str| move |r: &Receiver| r.kind == ReceiverType::Slack && r.name == n;
    let webhook = |r: &Receiver| r.kind == ReceiverType::Webhook;
    let mut p0 = names(&|r| r.kind == ReceiverType::Pagerduty);
    p0.extend(names(&slack("incidents")));
    p0.extend(names(&|r| r.kind == ReceiverType::Email));
    p0.extend(names(&webhook));
    let mut p1 = names(&slack("incidents"));
    p1.extend(names(&webhook));
    let mut p2 = names(&slack("alerts"));
    p2.extend(names(&webhook));
    [("P0", p0), ("P1", p1), ("P2", p2)]
        .into_iter()
        .map(|(sev, receivers)| Route {
            matchers: [("severity".to_string(), sev.to_string())]
                .into_iter()
                .collect(),
            receivers,
            continue_matching: false,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::mask_url;
    use super::*;
    use std::collections::BTreeMap;

    fn cfg(toml: &str) -> NotifyConfig {
        let s: Settings =
            figment::Figment::from(figment::providers::Serialized::defaults(Settings::default()))
                .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
                .extract()
                .unwrap();
        NotifyConfig::from_settings(&s).unwrap()
    }

    const RECEIVERS: &str = r#"
[smtp]
host = "127.0.0.1"
from = "fw@example.com"
[[receiver]]
name = "pager"
type = "pagerduty"
routing_key = "0123456789abcdef0123456789abcdef"
[[receiver]]
name = "incidents"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B0/SECRET"
[[receiver]]
name = "alerts"
type = "slack"
webhook_url = "https://hooks.slack.com/services/T0/B1/SECRET"
[[receiver]]
name = "oncall-mail"
type = "email"
to = ["oncall@example.com"]
"#;

    #[test]
    fn report_recipients_get_a_receiver_no_route_reaches_and_need_smtp() {
        let c = cfg(&format!(
            "{RECEIVERS}\n[reports]\nrecipients = [\"cto@example.com\"]\n"
        ));
        let r = c.receiver(super::super::REPORT_RECEIVER).unwrap();
        assert_eq!(r.to, ["cto@example.com"]);
        for sev in Severity::ALL {
            assert!(
                !c.route(sev, "", &BTreeMap::new())
                    .contains(&super::super::REPORT_RECEIVER.to_string())
            );
        }
        let s: Settings =
            figment::Figment::from(figment::providers::Serialized::defaults(Settings::default()))
                .merge(
                    <figment::providers::Toml as figment::providers::Format>::string(
                        "[reports]\nrecipients = [\"cto@example.com\"]\n",
                    ),
                )
                .extract()
                .unwrap();
        let e = NotifyConfig::from_settings(&s).unwrap_err();
        assert_eq!(e.0, "reports.recipients");
    }

    #[test]
    fn default_routes_follow_the_seed_escalation_policy() {
        let c = cfg(RECEIVERS);
        let none = BTreeMap::new();
        assert_eq!(
            c.route(Severity::P0, "x", &none),
            ["pager", "incidents", "oncall-mail"]
        );
        assert_eq!(c.route(Severity::P1, "x", &none), ["incidents"]);
        assert_eq!(c.route(Severity::P2, "x", &none), ["alerts"]);
        assert!(c.route(Severity::P3, "x", &none).is_empty());
    }

    #[test]
    fn the_first_matching_route_wins_unless_it_continues() {
        let c = cfg(&format!(
            "{RECEIVERS}
[[route]]
match = {{ service = \"payments\" }}
receivers = [\"pager\"]
continue = true
[[route]]
match = {{ team = \"db\" }}
receivers = [\"oncall-mail\"]
[[route]]
match = {{ severity = \"P0\" }}
receivers = [\"incidents\"]
"
        ));
        let db: BTreeMap<String, String> = [("team".to_string(), "db".to_string())].into();
        assert_eq!(
            c.route(Severity::P0, "payments", &db),
            ["pager", "oncall-mail"]
        );
        assert_eq!(
            c.route(Severity::P0, "web", &BTreeMap::new()),
            ["incidents"]
        );
        assert!(c.route(Severity::P2, "web", &BTreeMap::new()).is_empty());
    }

    #[test]
    fn secrets_are_masked_in_debug_and_ui() {
        let c = cfg(RECEIVERS);
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("SECRET") && !dbg.contains("0123456789abcdef0123"),
            "{dbg}"
        );
        assert_eq!(c.receivers[1].masked_target(), "https://hooks.slack.com/…");
        assert_eq!(
            mask_url("https://h.example?token=SECRET"),
            "https://h.example/…"
        );
        assert_eq!(
            mask_url("https://user:pw@h.example:8443/x"),
            "https://h.example:8443/…"
        );
        assert_eq!(mask_url("https://h.example/"), "https://h.example");
        assert!(c.receivers[0].masked_target().ends_with("…cdef)"));
    }
}

//! `firewatch drill`: a simulated P0 end to end against a running server, through the
//! same doors a real incident uses — an Alertmanager notification on the webhook, the
//! notification outbox, acknowledge, the alert resolving, a post-mortem draft. Each step
//! is printed with its time and whether it passed; the drill passes only if all do.
//!
//! The alert carries the label `firewatch_drill` (`true`, or `page` with `--page`), so the
//! server marks the incident as a drill: every message says DRILL, PagerDuty is left out
//! unless paging was asked for, and MTTA, MTTR and post-mortem policy ignore it.

mod http;

use std::time::{Duration, Instant};

use http::{CLOSING, OPENING, Run, WEBHOOK, notification, paint, timeline_lines, wait_delivered};

pub struct Options {
    pub url: String,
    pub token: String,
    pub service: String,
    pub page: bool,
    /// How long to wait for the notifications of a step to be delivered.
    pub wait: Duration,
    pub color: bool,
}

/// How a drill went: the text printed so far is streamed through `say`.
pub struct Outcome {
    pub passed: usize,
    pub failed: usize,
    pub incident_id: Option<i64>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.passed > 0
    }
}

/// The `firewatch drill` command: prints the steps as they run; Err(exit code, message)
/// when the drill failed.
pub async fn cli(options: &Options) -> Result<(), (u8, String)> {
    use std::io::Write;
    let mut say = |line: &str| {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    };
    if run(options, &mut say).await.ok() {
        Ok(())
    } else {
        Err((1, "the drill failed (see the steps above)".into()))
    }
}

/// Runs the drill, streaming each step's line through `say`.
pub async fn run(o: &Options, say: &mut dyn FnMut(&str)) -> Outcome {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(3))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            say(&format!("cannot build an HTTP client: {e}\n"));
            return Outcome {
                passed: 0,
                failed: 1,
                incident_id: None,
            };
        }
    };
    say(&format!(
        "Drill against {} for service {} ({})\n",
        o.url,
        o.service,
        if o.page {
            "PagerDuty is paged"
        } else {
            "PagerDuty is left out; --page includes it"
        }
    ));
    let mut run = Run {
        o,
        client,
        started: Instant::now(),
        step_started: Instant::now(),
        say,
        out: Outcome {
            passed: 0,
            failed: 0,
            incident_id: None,
        },
    };
    steps(&mut run).await;
    let total = run.started.elapsed().as_secs_f64();
    let out = run.out;
    let verdict = if out.ok() {
        paint(o.color, "32", "Drill passed")
    } else {
        paint(o.color, "31", "Drill failed")
    };
    let incident = out
        .incident_id
        .map(|id| format!(" — {}/incidents/{id}", o.url.trim_end_matches('/')))
        .unwrap_or_default();
    say(&format!(
        "{verdict}: {} of {} steps passed in {total:.1} s{incident}\n",
        out.passed,
        out.passed + out.failed
    ));
    out
}

async fn steps(run: &mut Run<'_>) {
    // 1. Who runs it: a responder's token.
    run.begin();
    let me = if run.o.token.trim().is_empty() {
        Err("no token: pass --token or set FIREWATCH_TOKEN to a responder's API token".into())
    } else {
        run.get("/api/v1/me").await
    };
    let me = me.and_then(|v| {
        let role = v["role"].as_str().unwrap_or("");
        if role == "responder" || role == "admin" {
            Ok(v["name"].as_str().unwrap_or("?").to_string())
        } else {
            Err(format!(
                "the token is a {} one; a drill acknowledges and resolves, so it needs \
                 responder",
                if role.is_empty() { "anonymous" } else { role }
            ))
        }
    });
    let who = match &me {
        Ok(name) => name.clone(),
        Err(_) => String::new(),
    };
    run.report("credentials", &me.map(|n| format!("signed in as {n}")));
    if who.is_empty() {
        return;
    }

    // 2. The alert through the webhook, as Alertmanager sends it.
    run.begin();
    let started_at = crate::time::rfc3339(crate::time::now_ms());
    let drill_id = format!("{}-{:04x}", crate::time::now_ms(), rand::random::<u16>());
    let fired = run
        .post(
            WEBHOOK,
            Some(notification(run.o, &drill_id, &who, true, &started_at)),
        )
        .await
        .and_then(
            |v| match (v["incident_id"].as_i64(), v["created"].as_bool()) {
                (Some(id), Some(true)) => Ok(id),
                _ => Err(format!(
                    "the webhook took the alert but opened no incident: {v}"
                )),
            },
        );
    let id = match fired {
        Ok(id) => {
            run.out.incident_id = Some(id);
            run.report(
                "alert",
                &Ok(format!(
                    "a firing alert through the Alertmanager webhook opened incident #{id}"
                )),
            );
            id
        }
        Err(e) => {
            run.report("alert", &Err(e));
            for name in [
                "incident",
                "notifications",
                "acknowledge",
                "resolve",
                "follow-up notifications",
                "post-mortem",
            ] {
                run.skip(name, "no incident");
            }
            return;
        }
    };

    // 3. The incident as the API shows it.
    run.begin();
    let inc = run.get(&format!("/api/v1/incidents/{id}")).await.and_then(|v| {
        let (drill, sev, status) = (
            v["drill"].as_bool() == Some(true),
            v["severity"].as_str().unwrap_or("?").to_string(),
            v["status"].as_str().unwrap_or("?").to_string(),
        );
        if drill && sev == "P0" && status == "triggered" {
            Ok(format!("#{id} is a P0 drill, triggered"))
        } else {
            Err(format!(
                "expected a triggered P0 drill, got drill={drill} severity={sev} status={status}"
            ))
        }
    });
    run.report("incident", &inc);

    // 4. Its notifications reach every routed receiver.
    run.begin();
    let mut delivered = wait_delivered(run, id, OPENING).await;
    let held = timeline_lines(run, id, "notification_held").await;
    match &mut delivered {
        Ok(d) if !held.is_empty() => d.push_str(&format!("; {}", held.join("; "))),
        Err(e) if !held.is_empty() => e.push_str(&format!(" ({})", held.join("; "))),
        _ => {}
    }
    run.report("notifications", &delivered);
    let announced = delivered.is_ok();

    // 5. Acknowledge.
    run.begin();
    let ack = run
        .post(&format!("/api/v1/incidents/{id}/acknowledge"), None)
        .await
        .and_then(|v| match v["status"].as_str() {
            Some("acknowledged") => Ok(format!(
                "acknowledged by {}",
                v["acknowledged_by"].as_str().unwrap_or("?")
            )),
            other => Err(format!(
                "status is {} after acknowledging",
                other.unwrap_or("?")
            )),
        });
    run.report("acknowledge", &ack);

    // 6. The alert resolves, as Alertmanager says it: the incident resolves itself.
    run.begin();
    let resolved = run
        .post(
            WEBHOOK,
            Some(notification(run.o, &drill_id, &who, false, &started_at)),
        )
        .await
        .and_then(|v| {
            if v["resolved"].as_bool() == Some(true) {
                Ok(format!("the resolved alert resolved incident #{id}"))
            } else {
                Err(format!("the incident did not resolve: {v}"))
            }
        });
    run.report("resolve", &resolved);

    // 7. Acknowledgement and resolution reach the receivers that heard of the opening.
    run.begin();
    if announced {
        let follow = wait_delivered(run, id, CLOSING).await;
        run.report("follow-up notifications", &follow);
    } else {
        run.skip(
            "follow-up notifications",
            "nobody was told of the opening, so nobody is told of the end",
        );
    }

    // 8. The post-mortem draft names the alert.
    run.begin();
    let pm = run
        .post(&format!("/api/v1/incidents/{id}/postmortem"), None)
        .await
        .and_then(|v| {
            let pid = v["id"].as_i64().unwrap_or(0);
            if v["sections"]["timeline"]
                .as_str()
                .is_some_and(|t| t.contains("FirewatchDrill"))
            {
                Ok(format!(
                    "draft #{pid} prefilled: {}/postmortems/{pid}",
                    run.base()
                ))
            } else {
                Err(format!("draft #{pid} does not name the drill's alert"))
            }
        });
    run.report("post-mortem", &pm);
}

//! The Reports service: gathers a month's inputs, computes the sections, renders and
//! stores the snapshot; lists and reads stored revisions.

use super::compute::{self, SloInput};
use super::month::Month;
use super::repo::{self, NewReport};
use super::{
    Appendix, BudgetBurn, METHOD, MonthTrend, PreviousMonth, Report, ReportError, ReportListing,
    Sections, SloMonth, render, summary,
};
use crate::db::{Db, StoreError};
use crate::incidents::stats;
use crate::postmortems::items::ItemFilter;
use crate::postmortems::repo as postmortems;
use crate::slo::store;

/// At most this many incidents are listed in a month (the counts cover all of them).
const MAX_INCIDENTS: usize = 5_000;

/// An SLO the report covers.
#[derive(Debug, Clone)]
pub struct ReportSlo {
    /// `service-name`.
    pub id: String,
    pub name: String,
    pub service: String,
    /// Ratio (0.999).
    pub objective: f64,
}

impl From<&crate::slo::spec::SloSpec> for ReportSlo {
    fn from(s: &crate::slo::spec::SloSpec) -> Self {
        Self {
            id: s.id(),
            name: s.name.clone(),
            service: s.service.clone(),
            objective: s.objective_ratio(),
        }
    }
}

pub struct ReportsSetup {
    pub db: Db,
    pub slos: Vec<ReportSlo>,
    pub tz: jiff::tz::TimeZone,
    pub tz_name: String,
    pub public_url: String,
}

#[derive(Clone)]
pub struct Reports {
    db: Db,
    slos: std::sync::Arc<Vec<ReportSlo>>,
    tz: jiff::tz::TimeZone,
    tz_name: String,
    public_url: String,
}

impl Reports {
    pub fn new(s: ReportsSetup) -> Self {
        Self {
            db: s.db,
            slos: std::sync::Arc::new(s.slos),
            tz: s.tz,
            tz_name: s.tz_name,
            public_url: s.public_url,
        }
    }

    pub fn public_url(&self) -> String {
        self.public_url.clone()
    }

    pub fn month(&self, key: &str) -> Result<Month, ReportError> {
        Month::parse(key, &self.tz).map_err(ReportError::Invalid)
    }

    /// The month that ended before `now` (what the monthly job reports on).
    pub fn last_month(&self, now: i64) -> Result<Month, ReportError> {
        Month::containing(now, &self.tz)
            .and_then(|m| m.previous())
            .map_err(ReportError::Invalid)
    }

    /// Every SLO's month, in configuration order; `progress` hears of each SLO read.
    async fn slo_months(
        &self,
        m: &Month,
        until: i64,
        progress: &Progress<'_>,
    ) -> Result<Vec<(SloInput, SloMonth)>, ReportError> {
        let mut out = Vec::new();
        for slo in self.slos.iter() {
            progress(&format!("{} {}", m.key, slo.id));
            let (id, from, to) = (slo.id.clone(), m.from, until.min(m.to));
            let (first_data, hours) = self
                .db
                .read(move |c| {
                    Ok::<_, StoreError>((
                        store::first_sample_at(c, &id, 0)?,
                        store::history(c, &id, from, to, super::month::HOUR)?,
                    ))
                })
                .await?;
            let input = SloInput {
                id: slo.id.clone(),
                name: slo.name.clone(),
                service: slo.service.clone(),
                objective: slo.objective,
                first_data,
                hours,
            };
            let mut month = compute::slo_month(m, &input, until);
            let (id, end, budget) = (slo.id.clone(), until.min(m.to), 1.0 - slo.objective);
            month.detail.windows = self
                .db
                .read(move |c| {
                    crate::slo::window::WINDOWS
                        .iter()
                        .map(|(name, len)| {
                            let (bad, total) = store::between(c, &id, end - len, end)?;
                            let ratio = (total > 0.0).then(|| bad / total);
                            Ok(super::WindowRow {
                                window: name.to_string(),
                                events: total,
                                sli: ratio.map(|r| 1.0 - r),
                                burn_rate: ratio.filter(|_| budget > 0.0).map(|r| r / budget),
                            })
                        })
                        .collect::<Result<Vec<_>, StoreError>>()
                })
                .await?;
            out.push((input, month));
        }
        Ok(out)
    }

    /// How many times `compute_with` calls its progress hook.
    pub fn steps(&self) -> usize {
        self.slos.len() * 5
    }

    async fn trend(
        &self,
        m: &Month,
        until: i64,
        progress: &Progress<'_>,
    ) -> Result<MonthTrend, ReportError> {
        let slos = self.slo_months(m, until, progress).await?;
        let (from, to) = (m.from, until.min(m.to));
        let incidents = self
            .db
            .read(move |c| stats::created_between(c, from, to, MAX_INCIDENTS))
            .await?;
        let inc = compute::incidents(&incidents, until);
        Ok(MonthTrend {
            month: m.key.clone(),
            slos_met: slos
                .iter()
                .filter(|(_, s)| s.compliance.met == Some(true))
                .count(),
            slos_with_data: slos
                .iter()
                .filter(|(_, s)| s.compliance.sli.is_some())
                .count(),
            slos: slos
                .iter()
                .map(|(i, s)| {
                    (
                        i.id.clone(),
                        (s.compliance.sli, s.compliance.budget_consumed),
                    )
                })
                .collect(),
            incidents: inc.total,
            mtta_s: inc.mtta_s,
            mttr_s: inc.mttr_s,
        })
    }

    /// Computes the month's report (month to date if it has not ended) without storing it.
    pub async fn compute(&self, m: &Month, actor: &str, now: i64) -> Result<Report, ReportError> {
        self.compute_with(m, actor, now, &|_| {}).await
    }

    /// `compute`, telling `progress` of each step (`steps()` of them).
    pub async fn compute_with(
        &self,
        m: &Month,
        actor: &str,
        now: i64,
        progress: &Progress<'_>,
    ) -> Result<Report, ReportError> {
        if m.from > now {
            return Err(ReportError::Invalid(format!(
                "{} has not started yet",
                m.label()
            )));
        }
        let until = now.min(m.to);
        let slos = self.slo_months(m, until, progress).await?;
        let prev = m.previous().map_err(ReportError::Invalid)?;
        let prev_slos = self.slo_months(&prev, prev.to, progress).await?;
        let (from, to) = (m.from, until);
        let incidents = self
            .db
            .read(move |c| stats::created_between(c, from, to, MAX_INCIDENTS))
            .await?;
        let mut top = compute::top_incidents(&incidents, &slos, until);
        let ids: Vec<i64> = top.iter().map(|t| t.id).collect();
        let today = m.date_of(until);
        let (found, items) = self
            .db
            .read(move |c| {
                let mut found = Vec::new();
                for id in ids {
                    let pm = match postmortems::of_incident(c, id)? {
                        Some(pid) => postmortems::get(c, pid)?,
                        None => None,
                    };
                    found.push(pm);
                }
                let items = postmortems::list_items(c, &ItemFilter::default(), &today)?;
                Ok::<_, StoreError>((found, items))
            })
            .await?;
        for (t, pm) in top.iter_mut().zip(found) {
            if let Some(pm) = pm {
                t.postmortem_id = Some(pm.id);
                t.root_causes = pm
                    .sections
                    .get("root_causes")
                    .map(|r| r.trim().to_string())
                    .filter(|r| !r.is_empty());
            }
        }
        let action_items = compute::action_items(&items, m, until);
        let incidents = compute::incidents(&incidents, until);
        let mut compliance = Vec::new();
        let mut burns = Vec::new();
        let mut details = Vec::new();
        for (input, month) in &slos {
            let mut c = month.compliance.clone();
            c.previous = prev_slos
                .iter()
                .find(|(i, _)| i.id == input.id)
                .map(|(_, p)| PreviousMonth {
                    month: prev.key.clone(),
                    sli: p.compliance.sli,
                    met: p.compliance.met,
                    budget_consumed: p.compliance.budget_consumed,
                });
            compliance.push(c);
            let mut worst: Vec<(String, f64)> = month
                .detail
                .daily
                .iter()
                .filter_map(|d| Some((d.date.clone(), d.budget_burned?)))
                .filter(|(_, b)| *b > 0.0)
                .collect();
            worst.sort_by(|a, b| b.1.total_cmp(&a.1));
            worst.truncate(3);
            burns.push(BudgetBurn {
                slo: input.id.clone(),
                objective: input.objective,
                budget_consumed: month.compliance.budget_consumed,
                by_day: month
                    .detail
                    .daily
                    .iter()
                    .map(|d| (d.date.clone(), d.budget_consumed_to_date))
                    .collect(),
                worst_days: worst,
            });
            details.push(month.detail.clone());
        }
        let mut trends = Vec::new();
        let mut back = prev.clone();
        let mut earlier = Vec::new();
        for _ in 0..3 {
            earlier.push(back.clone());
            back = back.previous().map_err(ReportError::Invalid)?;
        }
        for mm in earlier.iter().rev() {
            trends.push(self.trend(mm, mm.to, progress).await?);
        }
        trends.push(MonthTrend {
            month: m.key.clone(),
            slos_met: compliance.iter().filter(|c| c.met == Some(true)).count(),
            slos_with_data: compliance.iter().filter(|c| c.sli.is_some()).count(),
            slos: compliance
                .iter()
                .map(|c| (c.slo.clone(), (c.sli, c.budget_consumed)))
                .collect(),
            incidents: incidents.total,
            mtta_s: incidents.mtta_s,
            mttr_s: incidents.mttr_s,
        });
        let month_to_date = now < m.to;
        let executive_summary = summary::summarize(
            &m.label(),
            month_to_date,
            &compliance,
            &incidents,
            &top,
            &action_items,
        );
        Ok(Report {
            month: m.key.clone(),
            label: m.label(),
            revision: 0,
            generated_at: now,
            generated_by: actor.to_string(),
            time_zone: self.tz_name.clone(),
            from: m.from,
            to: m.to,
            until,
            month_to_date,
            sections: Sections {
                executive_summary,
                slo_compliance: compliance,
                error_budget: burns,
                incidents,
                trends,
                top_incidents: top,
                action_items,
                appendix: Appendix {
                    slos: details,
                    method: METHOD.iter().map(|s| s.to_string()).collect(),
                },
            },
        })
    }

    /// Computes, renders and stores a new revision of the month's report.
    pub async fn generate(&self, key: &str, actor: &str, now: i64) -> Result<Report, ReportError> {
        let m = self.month(key)?;
        let mut report = self.compute(&m, actor, now).await?;
        let key = m.key.clone();
        report.revision = self.db.read(move |c| repo::next_revision(c, &key)).await?;
        let base = self.public_url.clone();
        let r = report.clone();
        let (markdown, html, pdf) = tokio::task::spawn_blocking(move || {
            let local = |ms: i64| crate::time::in_zone(ms, &m.tz, "%Y-%m-%d %H:%M %Z");
            Ok::<_, String>((
                render::markdown(&r, &base, &local),
                render::html(&r, &local)?,
                super::pdf::render(&r, &local)?,
            ))
        })
        .await
        .map_err(|e| ReportError::Render(e.to_string()))?
        .map_err(ReportError::Render)?;
        let data =
            serde_json::to_string(&report).map_err(|e| ReportError::Render(e.to_string()))?;
        let (month, by, mtd) = (
            report.month.clone(),
            actor.to_string(),
            report.month_to_date,
        );
        let revision = report.revision;
        let stored = self
            .db
            .write(move |c| {
                repo::insert(
                    c,
                    &NewReport {
                        month: &month,
                        revision,
                        generated_at: now,
                        generated_by: &by,
                        month_to_date: mtd,
                        data: &data,
                        markdown: &markdown,
                        html: &html,
                        pdf: &pdf,
                    },
                )
            })
            .await?;
        if !stored {
            return Err(ReportError::Invalid(format!(
                "another generation of the {} report finished first; see revision {revision}",
                report.month
            )));
        }
        Ok(report)
    }

    /// The latest revision of every month.
    pub async fn list(&self) -> Result<Vec<ReportListing>, ReportError> {
        let rows = self.db.read(repo::latest).await?;
        Ok(rows.into_iter().map(listing).collect())
    }

    /// Every revision of a month, newest first.
    pub async fn revisions(&self, key: &str) -> Result<Vec<ReportListing>, ReportError> {
        let m = self.month(key)?;
        let rows = self.db.read(move |c| repo::revisions(c, &m.key)).await?;
        Ok(rows.into_iter().map(listing).collect())
    }

    /// A stored revision (the latest when `revision` is None).
    pub async fn get(&self, key: &str, revision: Option<i64>) -> Result<Stored, ReportError> {
        let m = self.month(key)?;
        let k = m.key.clone();
        let row = self
            .db
            .read(move |c| repo::get(c, &k, revision))
            .await?
            .ok_or_else(|| not_found(&m, revision))?;
        let mut report: Report = serde_json::from_str(&row.data)
            .map_err(|e| ReportError::Render(format!("stored report: {e}")))?;
        report.revision = row.revision;
        Ok(Stored {
            report,
            markdown: row.markdown,
            html: row.html,
        })
    }

    pub async fn pdf(&self, key: &str, revision: Option<i64>) -> Result<Vec<u8>, ReportError> {
        let m = self.month(key)?;
        let k = m.key.clone();
        self.db
            .read(move |c| repo::pdf(c, &k, revision))
            .await?
            .ok_or_else(|| not_found(&m, revision))
    }
}

fn not_found(m: &Month, revision: Option<i64>) -> ReportError {
    ReportError::NotFound(match revision {
        Some(r) => format!("no revision {r} of the {} report", m.key),
        None => format!(
            "no report for {} yet (generate it: POST /api/v1/reports/{})",
            m.key, m.key
        ),
    })
}

fn listing(r: repo::Listed) -> ReportListing {
    ReportListing {
        month: r.month,
        revision: r.revision,
        generated_at: r.generated_at,
        month_to_date: r.month_to_date,
    }
}

/// Told of each step of a computation (the CLI's progress bar).
pub type Progress<'a> = dyn Fn(&str) + Send + Sync + 'a;

/// A stored report with its renderings.
pub struct Stored {
    pub report: Report,
    pub markdown: String,
    pub html: String,
}

//! The action-item tracker: adding items to a post-mortem, changing them, and the list
//! across all post-mortems. Adding an item and closing one are lines on the incident's
//! timeline.

use super::items::{ActionItem, ItemFields, ItemFilter};
use super::{PostmortemError, Postmortems, repo};
use crate::incidents::timeline;
use crate::time::now_ms;

impl Postmortems {
    /// Today in the configured time zone (YYYY-MM-DD): items due before it are overdue.
    pub fn today(&self) -> String {
        jiff::Timestamp::now()
            .to_zoned_datetime(self.tz.clone())
            .date()
            .to_string()
    }

    pub async fn add_item(
        &self,
        postmortem_id: i64,
        fields: ItemFields,
        actor: &str,
    ) -> Result<ActionItem, PostmortemError> {
        for (name, given) in [
            ("title", &fields.title),
            ("owner", &fields.owner),
            ("due", &fields.due),
        ] {
            if given.is_none() {
                return Err(PostmortemError::Invalid {
                    field: name.into(),
                    message: "is required".into(),
                });
            }
        }
        let now = now_ms();
        let mut item = ActionItem {
            id: 0,
            postmortem_id,
            title: String::new(),
            owner: String::new(),
            kind: "prevent".into(),
            priority: "medium".into(),
            due: String::new(),
            status: "open".into(),
            url: String::new(),
            created_by: actor.to_string(),
            created_at: now,
            updated_at: now,
            overdue: false,
            service: String::new(),
            incident_id: 0,
        };
        fields.apply(&mut item)?;
        let (actor, today) = (actor.to_string(), self.today());
        self.db
            .write(move |c| {
                let p = repo::get(c, postmortem_id)?.ok_or_else(|| {
                    PostmortemError::NotFound(format!("post-mortem {postmortem_id} not found"))
                })?;
                let id = repo::insert_item(c, &item)?;
                let line = format!(
                    "Added action item: {} ({}, due {})",
                    item.title, item.owner, item.due
                );
                timeline::add(c, p.incident_id, now, "postmortem", &actor, &line, None)?;
                Ok(repo::get_item(c, id, &today)?.expect("just written"))
            })
            .await
    }

    pub async fn update_item(
        &self,
        id: i64,
        fields: ItemFields,
        actor: &str,
    ) -> Result<ActionItem, PostmortemError> {
        let (actor, today) = (actor.to_string(), self.today());
        self.db
            .write(move |c| {
                let mut item = repo::get_item(c, id, &today)?.ok_or_else(|| {
                    PostmortemError::NotFound(format!("action item {id} not found"))
                })?;
                let before = item.status.clone();
                fields.apply(&mut item)?;
                item.updated_at = now_ms();
                repo::update_item(c, &item)?;
                if item.status != before {
                    let line = format!(
                        "Action item \"{}\" is now {}",
                        item.title,
                        item.status.replace('_', " ")
                    );
                    timeline::add(
                        c,
                        item.incident_id,
                        item.updated_at,
                        "postmortem",
                        &actor,
                        &line,
                        None,
                    )?;
                }
                Ok(repo::get_item(c, id, &today)?.expect("just written"))
            })
            .await
    }

    pub async fn items(&self, filter: ItemFilter) -> Result<Vec<ActionItem>, PostmortemError> {
        filter.check()?;
        let today = self.today();
        Ok(self
            .db
            .read(move |c| repo::list_items(c, &filter, &today))
            .await?)
    }
}

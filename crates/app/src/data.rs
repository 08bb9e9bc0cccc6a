//! What syncs and webhooks produced: an integration's records, in the order they
//! last changed (KPIs are read through [`crate::kpis`]).

use chrono::{DateTime, Utc};
use junction_core::{ErrorCode, WorkspaceId};
use junction_store::{models::RecordRow, repo};
use uuid::Uuid;

use crate::{App, Error, Listed, PageRequest, Result, listed};

impl App {
    /// Records of one stream of an integration, in the order they last changed, so a
    /// client can follow changes with `modified_after` and the page keyset. Records
    /// found removed upstream are in it, with their `deleted_at` (marking one is a
    /// change).
    pub async fn records(
        &self,
        workspace_id: WorkspaceId,
        integration_id: Uuid,
        stream: &str,
        modified_after: Option<DateTime<Utc>>,
        page: PageRequest<(DateTime<Utc>, String)>,
    ) -> Result<Listed<RecordRow, (DateTime<Utc>, String)>> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, integration_id).await?;
        let adapter = self.adapter(&integration.provider)?;
        if adapter.spec().stream(stream).is_none() {
            return Err(Error::new(
                ErrorCode::UnknownStream,
                format!("{} has no stream `{stream}`", adapter.spec().name),
            ));
        }
        let rows = repo::records::list(
            tx.conn(),
            integration.id,
            stream,
            modified_after,
            page.after,
            page.limit + 1,
        )
        .await?;
        tx.commit().await?;
        Ok(listed(rows, page.limit, |r| {
            (r.updated_at, r.external_id.clone())
        }))
    }
}

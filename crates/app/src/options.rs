//! A config field's choices as the provider lists them (the GA4 properties a grant
//! reaches, the Meta ad accounts a user manages), read with an integration's
//! credentials: `GET /v1/integrations/{id}/options/{field}`, and the dashboard's
//! setting pickers. The spec marks the fields that have such choices
//! ([`junction_core::ConfigField::options`]); the adapter lists them
//! ([`junction_core::Adapter::options`]).

use junction_core::{ErrorCode, FieldOption, WorkspaceId};
use junction_store::models::IntegrationStatus;
use uuid::Uuid;

use crate::{App, Error, Result};

impl App {
    /// The choices of an integration's config field `field`: `unknown_config_field`
    /// when its provider has no such field, `field_has_no_options` when the provider
    /// lists no choices for it, `integration_needs_reauth` when the grant is gone,
    /// the provider's refusal (`provider_*`) otherwise. A token the provider refuses
    /// before its expiry is refreshed once and the call tried again.
    pub async fn field_options(
        &self,
        workspace_id: WorkspaceId,
        id: Uuid,
        field: &str,
    ) -> Result<Vec<FieldOption>> {
        let mut tx = self.begin(workspace_id).await?;
        let integration = crate::integration(&mut tx, id).await?;
        tx.commit().await?;
        let adapter = self.adapter(&integration.provider)?;
        let spec = adapter.spec();
        let Some(config_field) = spec.config.iter().find(|f| f.name == field) else {
            return Err(Error::new(
                ErrorCode::UnknownConfigField,
                format!("{} has no config field `{field}`", spec.name),
            ));
        };
        let none = || {
            Error::new(
                ErrorCode::FieldHasNoOptions,
                format!(
                    "{} lists no choices for `{field}`: type its value",
                    spec.name
                ),
            )
        };
        if !config_field.options {
            return Err(none());
        }
        if integration.status == IntegrationStatus::NeedsReauth {
            return Err(Error::new(
                ErrorCode::IntegrationNeedsReauth,
                "the integration must be reconnected before its provider can be asked",
            ));
        }
        let ctx = self.context(&integration.provider);
        let listed = self
            .connections
            .call(workspace_id, &integration, |connection| {
                let (adapter, ctx) = (adapter.clone(), ctx.clone());
                let field = field.to_owned();
                async move { adapter.options(&ctx, &connection, &field).await }
            })
            .await?;
        listed.ok_or_else(none)
    }
}

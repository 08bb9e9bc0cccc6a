//! The Resend side of the app tests (not shared with the worker binary's tests,
//! which reach providers only through the registry): an active Resend integration
//! and the emails the sandbox's Resend fake accepted.

use std::collections::BTreeMap;

use junction_core::WorkspaceId;
use junction_resend::sandbox as resend;
use junction_store::{
    models::{AuthKind, IntegrationStatus, NewIntegration},
    repo,
};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::TestEnv;

/// Resend's side of the test world.
pub trait ResendWorld {
    async fn create_resend(&self, workspace_id: WorkspaceId) -> Uuid;
    async fn resend_emails(&self) -> Vec<Value>;
}

impl ResendWorld for TestEnv {
    /// An active Resend integration with the sandbox's full-access key and webhook
    /// signing secret, straight into the database (not scheduled).
    async fn create_resend(&self, workspace_id: WorkspaceId) -> Uuid {
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let integration = repo::integrations::insert(
            tx.conn(),
            &NewIntegration {
                id: Uuid::new_v4(),
                workspace_id: workspace_id.as_uuid(),
                provider: "resend".to_owned(),
                display_name: "Resend".to_owned(),
                status: IntegrationStatus::Active,
                auth_kind: AuthKind::ApiKey,
                config: json!({ "from": resend::SANDBOX_SENDER }),
                scopes: vec![],
                token_expires_at: None,
                schedule_seconds: 6 * 3600,
                next_sync_at: None,
            },
        )
        .await
        .unwrap();
        let secrets = BTreeMap::from([
            (
                "api_key".to_owned(),
                SecretString::from(resend::SANDBOX_API_KEY.to_owned()),
            ),
            (
                "webhook_secret".to_owned(),
                SecretString::from(resend::SANDBOX_WEBHOOK_SECRET.to_owned()),
            ),
        ]);
        repo::credentials::put(
            tx.conn(),
            self.db.vault(),
            workspace_id,
            integration.id,
            &secrets,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        integration.id
    }

    /// Every email the sandbox's Resend fake accepted, newest first.
    async fn resend_emails(&self) -> Vec<Value> {
        let response = self
            .http
            .get(self.sandbox.url.join("resend/emails?limit=100").unwrap())
            .bearer_auth(resend::SANDBOX_API_KEY)
            .header("user-agent", "junction-worker-tests")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["data"].as_array().cloned().unwrap_or_default()
    }
}

/// SendGrid's side of the test world: the other email provider.
pub trait SendgridWorld {
    async fn create_sendgrid(&self, workspace_id: WorkspaceId) -> Uuid;
    async fn sendgrid_messages(&self, to: &str) -> Vec<Value>;
}

impl SendgridWorld for TestEnv {
    /// An active SendGrid integration with the sandbox's full-access key and
    /// verified sender, straight into the database (not scheduled).
    async fn create_sendgrid(&self, workspace_id: WorkspaceId) -> Uuid {
        use junction_sendgrid::sandbox as sendgrid;
        let mut tx = self.db.store().begin(workspace_id).await.unwrap();
        let integration = repo::integrations::insert(
            tx.conn(),
            &NewIntegration {
                id: Uuid::new_v4(),
                workspace_id: workspace_id.as_uuid(),
                provider: "sendgrid".to_owned(),
                display_name: "SendGrid".to_owned(),
                status: IntegrationStatus::Active,
                auth_kind: AuthKind::ApiKey,
                config: json!({ "from": sendgrid::SANDBOX_SENDER, "region": "global" }),
                scopes: vec![],
                token_expires_at: None,
                schedule_seconds: 6 * 3600,
                next_sync_at: None,
            },
        )
        .await
        .unwrap();
        let secrets = BTreeMap::from([(
            "api_key".to_owned(),
            SecretString::from(sendgrid::SANDBOX_API_KEY.to_owned()),
        )]);
        repo::credentials::put(
            tx.conn(),
            self.db.vault(),
            workspace_id,
            integration.id,
            &secrets,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        integration.id
    }

    /// The messages the sandbox's SendGrid fake sent to `to`, newest first, read
    /// through its Email Activity API.
    async fn sendgrid_messages(&self, to: &str) -> Vec<Value> {
        let mut url = self.sandbox.url.join("sendgrid/v3/messages").unwrap();
        url.query_pairs_mut()
            .append_pair("limit", "100")
            .append_pair("query", &format!("to_email=\"{to}\""));
        let response = self
            .http
            .get(url)
            .bearer_auth(junction_sendgrid::sandbox::SANDBOX_API_KEY)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["messages"].as_array().cloned().unwrap_or_default()
    }
}

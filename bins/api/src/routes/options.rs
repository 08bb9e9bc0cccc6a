//! GET /v1/integrations/{id}/options/{field}: a config field's choices as the
//! provider lists them with the integration's credentials (GA4 properties, Meta ad
//! accounts), so a setting is picked from a list instead of typed as an id.

use actix_web::{get, web};
use serde::{Deserialize, Serialize};
use utoipa::{
    IntoParams, ToSchema,
    openapi::{
        KnownFormat, ObjectBuilder, Required, SchemaFormat, Type,
        path::{Parameter, ParameterBuilder, ParameterIn},
    },
};
use uuid::Uuid;

use crate::{
    auth::Auth,
    error::{ApiResult, Problem},
    extract::Path,
    state::AppState,
};

/// The integration and its field.
#[derive(Debug, Deserialize)]
pub struct OptionsPath {
    pub id: Uuid,
    pub field: String,
}

// By hand: utoipa leaves a parameter whose schema is given (`schema_with`) optional,
// and a path parameter is always required.
impl IntoParams for OptionsPath {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let uuid = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .build();
        vec![
            ParameterBuilder::new()
                .name("id")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(uuid))
                .build(),
            ParameterBuilder::new()
                .name("field")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .description(Some(
                    "A config field of the provider marked `options: true`",
                ))
                .schema(Some(crate::schema::option_field()))
                .build(),
        ]
    }
}

/// One choice.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldOptionView {
    /// The value to set the field to (`PATCH /v1/integrations/{id}` `config`).
    pub value: String,
    /// What the provider calls it.
    pub label: String,
    /// More about it (its account, currency, size).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A config field's choices.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldOptions {
    pub field: String,
    pub options: Vec<FieldOptionView>,
}

/// Lists the choices of a config field of the integration's provider, asked of the
/// provider now with the integration's credentials (`GET /v1/providers/{provider}`
/// marks such fields with `options: true`).
#[utoipa::path(
    tag = "integrations",
    params(OptionsPath),
    responses(
        (status = 200, body = FieldOptions),
        (status = 404, body = Problem, description = "`integration_not_found`; `unknown_config_field`: the provider has no such field; `field_has_no_options`: the provider lists no choices for it"),
        (status = 409, body = Problem, description = "`integration_needs_reauth`: reconnect first"),
        (status = 502, body = Problem, description = "The provider refused or failed (`provider_*`)")
    ),
    security(("api_key" = []))
)]
#[get("/v1/integrations/{id}/options/{field}")]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    path: Path<OptionsPath>,
) -> ApiResult<web::Json<FieldOptions>> {
    let OptionsPath { id, field } = path.into_inner();
    let options = state
        .app
        .field_options(auth.workspace_id, id, &field)
        .await?;
    Ok(web::Json(FieldOptions {
        field,
        options: options
            .into_iter()
            .map(|option| FieldOptionView {
                value: option.value,
                label: option.label,
                description: option.description,
            })
            .collect(),
    }))
}

//! [`Description`]: a provider's toolkit description, and the table-driven checks
//! generated from it (see the crate docs for what each checks).

use junction_core::{Adapter, Connection, spec::ProviderSpec};
use junction_toolkit::{HttpApi, Paging};

use crate::{
    FakeServer, auth,
    common::{Failure, FakeList, Report, failure},
    errors, paging,
    vectors::SignatureVector,
    webhooks,
};

/// What the table-driven checks are generated from: the provider's [`HttpApi`], each
/// [`Paging`] it declares (with a list of its fake to walk, where one pages that
/// way), and the official signature vectors of its webhooks.
///
/// ```ignore
/// Suite::new(adapter, good, rejected, false)
///     .with_description(
///         Description::new(&junction_stripe::API)
///             .paging_on(&junction_stripe::PAGING, FakeList::get("customers"))
///             .webhook_vector(vectors::STRIPE),
///     )
///     .run(&server)
///     .await;
/// ```
#[derive(Debug, Clone)]
pub struct Description {
    api: HttpApi,
    pagings: Vec<(Paging, Option<FakeList>)>,
    vectors: Vec<SignatureVector>,
}

impl Description {
    /// The description of `api`, without paging or webhook vectors yet.
    pub fn new(api: &HttpApi) -> Self {
        Self {
            api: *api,
            pagings: Vec::new(),
            vectors: Vec::new(),
        }
    }

    /// A paging style the provider declares, walked over a synthetic list only.
    pub fn paging(mut self, paging: &Paging) -> Self {
        self.pagings.push((*paging, None));
        self
    }

    /// A paging style the provider declares, walked over a synthetic list and over
    /// `list` of its fake. The first such list is also the request the fault and
    /// auth checks send to the fake.
    pub fn paging_on(mut self, paging: &Paging, list: FakeList) -> Self {
        self.pagings.push((*paging, Some(list)));
        self
    }

    /// An official signature vector of the provider's webhooks
    /// ([`crate::vectors`]).
    pub fn webhook_vector(mut self, vector: SignatureVector) -> Self {
        self.vectors.push(vector);
        self
    }

    /// Runs every check generated from the description for the provider entry
    /// `spec`, with `connection` (one the fake accepts) against `server`; the
    /// adapter, when given, must refuse tampered webhooks itself too. The first
    /// failure, or what the checks covered.
    pub async fn check(
        &self,
        spec: &ProviderSpec,
        connection: &Connection,
        server: &FakeServer,
        adapter: Option<&dyn Adapter>,
    ) -> Result<Report, Failure> {
        let api = &self.api;
        api.validate()
            .map_err(|problems| failure("description: HttpApi::validate", problems.join("; ")))?;
        let probe = self
            .pagings
            .iter()
            .find_map(|(paging, list)| list.as_ref().map(|list| (paging, list)));
        // Auth first: with a credential the fake refuses, every later check that asks
        // the fake would fail for that reason.
        let (auth_modes, auth_modes_accepted) =
            auth::modes(api, spec, connection, server, probe).await?;
        let mut report = Report {
            auth_modes,
            auth_modes_accepted,
            error_rules: api.errors.rules.len(),
            error_cases: errors::rules(api, spec, connection).await?,
            ..Report::default()
        };
        if let Some((paging, list)) = probe {
            report.fake_refusals =
                errors::fake_refusals(api, spec, connection, server, list, paging).await?;
        }
        for (paging, list) in &self.pagings {
            paging::synthetic(api, spec, connection, paging).await?;
            report.paging_styles += 1;
            if let Some(list) = list {
                paging::on_fake(api, spec, connection, server, paging, list).await?;
                report.fake_lists += 1;
            }
        }
        report.webhook_vectors = webhooks::vectors(spec, adapter, &self.vectors)?;
        Ok(report)
    }
}

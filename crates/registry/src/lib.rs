//! junction-registry: the closed list of providers Junction is built with.
//!
//! Each provider is a crate behind a Cargo feature of the same name (all on by
//! default), so a build can leave providers out and each one can be checked alone.
//! With the `sandbox` feature the registry also lists every enabled provider's fake.

use std::{collections::BTreeMap, sync::Arc};

use junction_core::{Adapter, spec::ProviderSpec};

/// The providers of this build, by id.
#[derive(Clone)]
pub struct Registry {
    adapters: BTreeMap<&'static str, Arc<dyn Adapter>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.adapters.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Registry {
    /// Every provider compiled into this build.
    pub fn builtin() -> Self {
        let adapters: Vec<Arc<dyn Adapter>> = vec![
            #[cfg(feature = "google-analytics")]
            Arc::new(junction_google_analytics::GoogleAnalytics),
            #[cfg(feature = "resend")]
            Arc::new(junction_resend::Resend),
            #[cfg(feature = "mailchimp")]
            Arc::new(junction_mailchimp::Mailchimp::api_key()),
            #[cfg(feature = "mailchimp")]
            Arc::new(junction_mailchimp::Mailchimp::oauth()),
            #[cfg(feature = "kit")]
            Arc::new(junction_kit::Kit::api_key()),
            #[cfg(feature = "kit")]
            Arc::new(junction_kit::Kit::oauth()),
            #[cfg(feature = "stripe")]
            Arc::new(junction_stripe::Stripe),
            #[cfg(feature = "meta-ads")]
            Arc::new(junction_meta_ads::MetaAds),
            #[cfg(feature = "buffer")]
            Arc::new(junction_buffer::Buffer),
            #[cfg(feature = "mixpanel")]
            Arc::new(junction_mixpanel::Mixpanel),
            #[cfg(feature = "hubspot")]
            Arc::new(junction_hubspot::Hubspot::private_app()),
            #[cfg(feature = "hubspot")]
            Arc::new(junction_hubspot::Hubspot::oauth()),
            #[cfg(feature = "devto")]
            Arc::new(junction_devto::Devto),
            #[cfg(feature = "hashnode")]
            Arc::new(junction_hashnode::Hashnode),
            #[cfg(feature = "medium")]
            Arc::new(junction_medium::Medium),
            #[cfg(feature = "hotjar")]
            Arc::new(junction_hotjar::Hotjar),
            #[cfg(feature = "sendgrid")]
            Arc::new(junction_sendgrid::Sendgrid),
        ];
        Self::from_adapters(adapters)
    }

    /// A registry of the given adapters (tests register fakes of their own).
    pub fn from_adapters(adapters: impl IntoIterator<Item = Arc<dyn Adapter>>) -> Self {
        Self {
            adapters: adapters
                .into_iter()
                .map(|adapter| (adapter.spec().id, adapter))
                .collect(),
        }
    }

    /// The adapter of a provider id.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Adapter>> {
        self.adapters.get(id)
    }

    /// Every provider's spec, ordered by id.
    pub fn specs(&self) -> impl Iterator<Item = &ProviderSpec> {
        self.adapters.values().map(|adapter| adapter.spec())
    }

    /// Every provider id, ordered.
    pub fn ids(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.adapters.keys().copied()
    }
}

/// Every enabled provider's fake, for the sandbox.
#[cfg(feature = "sandbox")]
pub fn fakes() -> Vec<Arc<dyn junction_core::fake::ProviderFake>> {
    vec![
        #[cfg(feature = "google-analytics")]
        Arc::new(junction_google_analytics::sandbox::Ga4Fake),
        #[cfg(feature = "resend")]
        Arc::new(junction_resend::sandbox::ResendFake::default()),
        #[cfg(feature = "mailchimp")]
        Arc::new(junction_mailchimp::sandbox::MailchimpFake::default()),
        #[cfg(feature = "mailchimp")]
        Arc::new(junction_mailchimp::sandbox::MailchimpFake::oauth()),
        #[cfg(feature = "kit")]
        Arc::new(junction_kit::sandbox::KitFake::default()),
        #[cfg(feature = "kit")]
        Arc::new(junction_kit::sandbox::KitFake::oauth()),
        #[cfg(feature = "stripe")]
        Arc::new(junction_stripe::sandbox::StripeFake::default()),
        #[cfg(feature = "meta-ads")]
        Arc::new(junction_meta_ads::sandbox::MetaAdsFake),
        #[cfg(feature = "buffer")]
        Arc::new(junction_buffer::sandbox::BufferFake::default()),
        #[cfg(feature = "mixpanel")]
        Arc::new(junction_mixpanel::sandbox::MixpanelFake::default()),
        #[cfg(feature = "hubspot")]
        Arc::new(junction_hubspot::sandbox::HubspotFake::default()),
        Arc::new(junction_hubspot::sandbox::HubspotFake::oauth()),
        #[cfg(feature = "devto")]
        Arc::new(junction_devto::sandbox::DevtoFake::default()),
        #[cfg(feature = "hashnode")]
        Arc::new(junction_hashnode::sandbox::HashnodeFake::default()),
        #[cfg(feature = "medium")]
        Arc::new(junction_medium::sandbox::MediumFake::default()),
        #[cfg(feature = "hotjar")]
        Arc::new(junction_hotjar::sandbox::HotjarFake::default()),
        #[cfg(feature = "sendgrid")]
        Arc::new(junction_sendgrid::sandbox::SendgridFake::default()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spec_is_consistent() {
        let registry = Registry::builtin();
        for spec in registry.specs() {
            assert!(
                junction_core::ProviderId::parse(spec.id).is_ok(),
                "{}",
                spec.id
            );
            assert!(spec.docs_url.starts_with("https://"), "{}", spec.id);
            assert!(!spec.streams.is_empty(), "{} has no stream", spec.id);
            for stream in &spec.streams {
                assert!(
                    !stream.primary_key.is_empty(),
                    "{}/{}",
                    spec.id,
                    stream.name
                );
            }
            let mut names: Vec<_> = spec.all_fields().map(|f| f.name).collect();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{} has duplicate field names", spec.id);
            // Every metric declares its kind and unit soundly: ratios over sum
            // metrics of the same provider, family members of the family's unit,
            // a description each; streams and actions are described, and a
            // webhook-only stream has webhooks to feed it.
            assert_eq!(spec.metric_problems(), Vec::<String>::new(), "{}", spec.id);
            assert_eq!(spec.stream_problems(), Vec::<String>::new(), "{}", spec.id);
        }
        // A metric name means one thing whatever the provider: `/v1/kpis?metric=`
        // reads it across integrations with one kind and unit.
        assert_eq!(
            junction_core::spec::shared_metric_problems(registry.specs()),
            Vec::<String>::new()
        );
        // Every canonical family has a member, so a family query can answer.
        for family in junction_core::spec::MetricFamily::ALL {
            assert!(
                registry
                    .specs()
                    .any(|spec| spec.metrics().any(|m| m.family == Some(family))),
                "no provider maps into {}",
                family.as_str()
            );
        }
    }

    /// The sandbox mounts `fakes()` by provider id and lists each entry in its
    /// catalog with the fake's values: every entry needs a fake whose values connect.
    #[cfg(feature = "sandbox")]
    #[test]
    fn every_entry_has_one_fake_whose_catalog_values_pass_its_spec() {
        let registry = Registry::builtin();
        let fakes = fakes();
        let mut ids: Vec<&str> = fakes.iter().map(|fake| fake.provider_id()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            registry.ids().collect::<Vec<_>>(),
            "one fake per entry"
        );
        for fake in &fakes {
            let id = fake.provider_id();
            let catalog = fake.catalog();
            let mut fields = catalog.config.clone();
            fields.extend(catalog.credentials.clone());
            let spec = registry.get(id).map(|adapter| adapter.spec());
            let checked = spec.map(|spec| spec.validate_fields(&fields));
            assert_eq!(checked, Some(Ok(())), "{id}: the catalog's values");
        }
    }

    #[test]
    fn every_action_schema_compiles_and_rejects_unknown_inputs() {
        let registry = Registry::builtin();
        for spec in registry.specs() {
            for action in &spec.actions {
                let errors = action
                    .validate_input(&serde_json::json!({"__not_an_input__": true}))
                    .expect_err("an unknown property is refused");
                assert!(
                    errors
                        .iter()
                        .all(|e| !e.message.contains("invalid input schema")),
                    "{}/{}: {errors:?}",
                    spec.id,
                    action.name
                );
                assert!(
                    errors.iter().any(|e| e.field == "__not_an_input__"),
                    "{}/{} must set additionalProperties: false",
                    spec.id,
                    action.name
                );
            }
        }
    }
}

//! Property tests of Stripe's bracketed form encoding: whatever nested parameters an
//! action sends, the sandbox fake (and Stripe) reads the same structure back.

use junction_stripe::form::{decode, encode, to_body};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Parameter names as Stripe's are (letters and underscores; never all digits, which
/// the generic reader would take for array indices).
fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z_]{0,11}"
}

/// Text values, including characters the URL encoding must escape.
fn text() -> impl Strategy<Value = String> {
    "[ -~é€]{1,16}"
}

/// A nested parameter value: text, an object, or an array of objects or texts.
fn value() -> impl Strategy<Value = Value> {
    let leaf = text().prop_map(Value::String);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::btree_map(name(), inner.clone(), 1..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            prop::collection::vec(inner, 1..4).prop_map(Value::Array),
        ]
    })
}

fn params() -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::btree_map(name(), value(), 1..6).prop_map(|m| m.into_iter().collect())
}

proptest! {
    #[test]
    fn encoding_then_decoding_gives_the_parameters_back(params in params()) {
        let pairs = encode(&params);
        prop_assert_eq!(decode(&pairs).unwrap(), Value::Object(params.clone()));
        // Through the wire format too: what the fake receives decodes the same.
        let body = to_body(&pairs);
        let received: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        prop_assert_eq!(received, pairs);
    }

    #[test]
    fn encoding_is_stable(params in params()) {
        // A retried action must send the very same body for Stripe's idempotency check.
        prop_assert_eq!(to_body(&encode(&params)), to_body(&encode(&params.clone())));
    }
}

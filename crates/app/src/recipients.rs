//! Email recipients as Junction takes them from clients — alert rules, notification
//! settings, the weekly report, the suppression list — and as it finds them in the
//! input of actions that send email: one rule for what an address is, and one for
//! how a list of them is checked and stored (trimmed, lower-cased, without repeats).

use std::collections::BTreeSet;

use junction_core::spec::FieldError;

/// Longest email address (RFC 5321 path limit).
pub const MAX_ADDRESS_CHARS: usize = 254;
/// How many recipients one list may hold.
pub const MAX_RECIPIENTS: usize = junction_store::repo::alerts::MAX_RECIPIENTS;

/// Whether `address` is a plain `local@domain.tld` on one line (display names are
/// not accepted: suppressions and dedupe compare bare addresses).
pub fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let clean = |part: &str| {
        !part.is_empty()
            && !part.chars().any(|c| {
                c.is_whitespace()
                    || c.is_control()
                    || matches!(
                        c,
                        '<' | '>' | ',' | ';' | '"' | '(' | ')' | '[' | ']' | '\\'
                    )
            })
    };
    address.chars().count() <= MAX_ADDRESS_CHARS
        && clean(local)
        && clean(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// One address as a client sent it: trimmed and lower-cased, or `None` (with the
/// problem recorded under `field`) when it is not a plain address.
pub fn check_address(field: &str, address: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let too_long = address.chars().count() > MAX_ADDRESS_CHARS;
    let address = address.trim().to_lowercase();
    if too_long || !valid_address(&address) {
        errors.push(problem(field, "is not an email address"));
        return None;
    }
    Some(address)
}

/// A list of addresses under `field`: at least `min` (0 or 1) and at most
/// [`MAX_RECIPIENTS`], each plain; returned trimmed, lower-cased, without repeats.
/// Every problem is recorded (each bad address under `field[i]`).
pub fn check_addresses(
    field: &str,
    addresses: &[String],
    min: usize,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<String>> {
    if addresses.len() < min {
        errors.push(problem(
            field,
            &format!("is required: {min} to {MAX_RECIPIENTS} email addresses"),
        ));
        return None;
    }
    if addresses.len() > MAX_RECIPIENTS {
        errors.push(problem(
            field,
            &format!("must hold at most {MAX_RECIPIENTS} email addresses"),
        ));
        return None;
    }
    let mut seen = BTreeSet::new();
    let mut checked = Vec::new();
    let mut valid = true;
    for (i, address) in addresses.iter().enumerate() {
        match check_address(&format!("{field}[{i}]"), address, errors) {
            Some(address) => {
                if seen.insert(address.clone()) {
                    checked.push(address);
                }
            }
            None => valid = false,
        }
    }
    valid.then_some(checked)
}

/// A problem with one input field.
pub fn problem(field: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// The bare address of a recipient as email APIs take them — `ops@acme.example` or
/// `Ops Team <ops@acme.example>` — lower-cased, for comparing with the suppression
/// list.
pub fn bare_address(recipient: &str) -> String {
    let recipient = recipient.trim();
    let inner = match (recipient.rfind('<'), recipient.strip_suffix('>')) {
        (Some(open), Some(without_close)) => &without_close[open + 1..],
        _ => recipient,
    };
    inner.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_trimmed_lowered_deduplicated_and_bounded() {
        let mut errors = Vec::new();
        let list = check_addresses(
            "recipients",
            &[
                " Ops@Acme.example ".into(),
                "ops@acme.example".into(),
                "cfo@acme.example".into(),
            ],
            1,
            &mut errors,
        );
        assert_eq!(
            list,
            Some(vec!["ops@acme.example".into(), "cfo@acme.example".into()])
        );
        assert!(errors.is_empty());
        assert_eq!(check_addresses("x", &[], 0, &mut errors), Some(vec![]));
        assert_eq!(check_addresses("x", &[], 1, &mut errors), None);
        let too_many: Vec<String> = (0..=MAX_RECIPIENTS)
            .map(|i| format!("u{i}@acme.example"))
            .collect();
        assert_eq!(check_addresses("y", &too_many, 0, &mut errors), None);
        assert_eq!(
            check_addresses(
                "z",
                &["ok@acme.example".into(), "nope".into()],
                1,
                &mut errors
            ),
            None
        );
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["x", "y", "z[1]"]);
    }

    #[test]
    fn recipients_compare_by_their_bare_address() {
        assert_eq!(bare_address(" Ops@Acme.example "), "ops@acme.example");
        assert_eq!(
            bare_address("Ops Team <OPS@acme.example>"),
            "ops@acme.example"
        );
        assert_eq!(bare_address("\"A <b>\" <c@d.example>"), "c@d.example");
        assert_eq!(bare_address("broken <x@y.example"), "broken <x@y.example");
    }
}

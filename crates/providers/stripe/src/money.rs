//! Stripe amounts: integer minor units per currency, turned into major units.
//!
//! Stripe sends every amount as an integer in the currency's smallest unit: cents for
//! USD (`1099` is $10.99), whole yen for JPY (`500` is ¥500), thousandths for the
//! three-decimal currencies (`5120` is 5.120 KWD). KPI values are stored in major
//! units, so sums are kept in integer minor units and divided once at the end.

/// Zero-decimal currencies: the amount is already in major units
/// (https://docs.stripe.com/currencies#zero-decimal).
const ZERO_DECIMAL: [&str; 16] = [
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];

/// Three-decimal currencies: amounts are in thousandths
/// (https://docs.stripe.com/currencies#three-decimal).
const THREE_DECIMAL: [&str; 5] = ["bhd", "jod", "kwd", "omr", "tnd"];

/// How many minor units make one major unit of `currency` (any case). ISK, HUF and
/// TWD are "special cases" that Stripe still represents with two decimals, so they
/// fall under the default of 100 like every other currency.
pub fn minor_units_per_major(currency: &str) -> u32 {
    let lower = currency.to_ascii_lowercase();
    if ZERO_DECIMAL.contains(&lower.as_str()) {
        1
    } else if THREE_DECIMAL.contains(&lower.as_str()) {
        1000
    } else {
        100
    }
}

/// An amount in minor units as major units.
pub fn to_major(minor: i64, currency: &str) -> f64 {
    // Amounts below 2^53 convert exactly; Stripe's largest charge is eight digits.
    minor as f64 / f64::from(minor_units_per_major(currency))
}

/// An amount in minor units as an exact decimal in major units, with the currency's
/// digits: `1099` USD is `10.99`, `500` JPY is `500`, `5120` KWD is `5.120`.
pub fn format_major(minor: i64, currency: &str) -> String {
    let per = i64::from(minor_units_per_major(currency));
    let digits = per.to_string().len() - 1;
    let sign = if minor < 0 { "-" } else { "" };
    let magnitude = minor.unsigned_abs();
    let per = per.unsigned_abs();
    if digits == 0 {
        return format!("{sign}{magnitude}");
    }
    format!("{sign}{}.{:0digits$}", magnitude / per, magnitude % per)
}

/// A fractional amount of minor units (normalised MRR) as major units, rounded to the
/// currency's minor unit.
pub fn fractional_to_major(minor: f64, currency: &str) -> f64 {
    minor.round() / f64::from(minor_units_per_major(currency))
}

/// The dimension value of a currency: the ISO 4217 code in upper case (Stripe sends
/// lower case).
pub fn currency_code(currency: &str) -> String {
    currency.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_with_the_currencys_digits() {
        assert_eq!(format_major(1099, "usd"), "10.99");
        assert_eq!(format_major(5, "EUR"), "0.05");
        assert_eq!(format_major(500, "jpy"), "500");
        assert_eq!(format_major(5120, "kwd"), "5.120");
        assert_eq!(format_major(-250, "usd"), "-2.50");
    }

    #[test]
    fn amounts_follow_the_currency_exponent() {
        assert_eq!(to_major(1099, "usd"), 10.99);
        assert_eq!(to_major(1099, "EUR"), 10.99);
        assert_eq!(to_major(500, "jpy"), 500.0);
        assert_eq!(to_major(500, "KRW"), 500.0);
        assert_eq!(to_major(5120, "kwd"), 5.12);
        assert_eq!(to_major(-250, "usd"), -2.5);
        // ISK is effectively zero-decimal but still sent with two decimals.
        assert_eq!(to_major(50000, "isk"), 500.0);
        assert_eq!(fractional_to_major(1666.666, "usd"), 16.67);
        assert_eq!(fractional_to_major(1666.4, "jpy"), 1666.0);
        assert_eq!(currency_code("usd"), "USD");
    }
}

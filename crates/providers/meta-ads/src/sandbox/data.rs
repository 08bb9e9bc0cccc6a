//! The fake's deterministic ad data: a handful of campaigns per ad account with
//! daily delivery over the past years, derived from a hash of (account, campaign,
//! day) so every request sees the same numbers without any stored state. The
//! campaigns and account names are data (`seed.json`).

use chrono::NaiveDate;
use junction_toolkit::fake::Data;
use serde_json::{Value, json};

/// The campaigns, the account names, the catalog.
pub(crate) static SEED: Data = Data::new(include_str!("seed.json"));

/// The first campaign id of an account; campaign `i` is this plus `i`.
fn campaign_base(account: &str) -> u64 {
    23_850_000_000_000_000 + (hash(&[seed(account)]) % 1_000_000) * 100
}

/// A name for the account.
pub(crate) fn account_name(account: &str) -> String {
    let names = SEED.list("/account_names").len() as u64;
    let index = (hash(&[seed(account)]) % names.max(1)) as usize;
    format!("{} – Ads", SEED.text("/account_names", index))
}

/// One insights row per campaign with delivery on each day of `since..=until`,
/// ordered by day, then campaign id. `today` anchors the campaigns' lifetimes.
pub(crate) fn rows(
    account: &str,
    since: NaiveDate,
    until: NaiveDate,
    today: NaiveDate,
) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut day = since;
    while day <= until && day <= today {
        for (index, campaign) in SEED.list("/campaigns").iter().enumerate() {
            rows.extend(row(account, index, campaign, day, today));
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    rows
}

/// The row of one campaign on one day, `None` without delivery.
fn row(
    account: &str,
    index: usize,
    campaign: &Value,
    day: NaiveDate,
    today: NaiveDate,
) -> Option<Value> {
    let age = (today - day).num_days();
    let ends = campaign["ends"].as_i64();
    if age > campaign["starts"].as_i64().unwrap_or(0) || ends.is_some_and(|ends| age < ends) {
        return None;
    }
    let h = hash(&[seed(account), index as u64, day_number(day)]);
    // About one day in 19 a campaign does not deliver (budget, review): no row, as
    // Meta omits rows without data.
    if h.is_multiple_of(19) {
        return None;
    }
    let unit = |shift: u32| ((h >> shift) % 1000) as f64 / 1000.0;
    let weight = campaign["weight"].as_f64().unwrap_or(1.0);
    let impressions = ((2_000.0 + 9_000.0 * unit(0)) * weight).round();
    let ctr_fraction = 0.006 + 0.022 * unit(10);
    let clicks = (impressions * ctr_fraction).round();
    let cpm = 6.0 + 14.0 * unit(20);
    let spend_cents = (impressions * cpm / 10.0).round();
    let spend = spend_cents / 100.0;
    let conversion = 0.01 + 0.05 * unit(30);
    let purchases = (clicks * conversion).floor();
    let order_value = 25.0 + 95.0 * unit(40);
    let value_cents = (purchases * order_value * 100.0).round();
    let value = value_cents / 100.0;
    // The pixel sees most purchases; the rest happen in the app.
    let pixel_purchases = (purchases * 0.8).round();

    let campaign_id = (campaign_base(account) + index as u64).to_string();
    let mut row = json!({
        "account_id": account, "account_currency": "USD", "campaign_id": campaign_id,
        "campaign_name": campaign["name"], "date_start": day.to_string(),
        "date_stop": day.to_string(), "spend": format!("{spend:.2}"),
        "impressions": format!("{impressions:.0}"), "clicks": format!("{clicks:.0}"),
    });
    if impressions > 0.0 {
        row["ctr"] = json!(format!("{:.6}", clicks / impressions * 100.0));
    }
    if clicks > 0.0 {
        row["cpc"] = json!(format!("{:.6}", spend / clicks));
    }
    let mut actions = vec![json!({"action_type": "link_click", "value": format!("{clicks:.0}")})];
    let mut values = Vec::new();
    if purchases > 0.0 {
        for (kind, count, amount) in [
            (
                "offsite_conversion.fb_pixel_purchase",
                pixel_purchases,
                value * pixel_purchases / purchases,
            ),
            ("purchase", purchases, value),
            ("omni_purchase", purchases, value),
        ] {
            actions.push(json!({"action_type": kind, "value": format!("{count:.0}")}));
            values.push(json!({"action_type": kind, "value": format!("{amount:.2}")}));
        }
        if spend > 0.0 {
            let roas = format!("{:.6}", value / spend);
            row["purchase_roas"] = json!([{"action_type": "omni_purchase", "value": roas}]);
        }
    }
    row["actions"] = Value::Array(actions);
    if !values.is_empty() {
        row["action_values"] = Value::Array(values);
    }
    Some(row)
}

/// Days since 1970-01-01.
fn day_number(day: NaiveDate) -> u64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or(day);
    (day - epoch).num_days().unsigned_abs()
}

/// A seed from the account id's text.
fn seed(account: &str) -> u64 {
    account.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// splitmix64 over the parts: deterministic, well mixed, no dependency.
fn hash(parts: &[u64]) -> u64 {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for part in parts {
        state ^= part.wrapping_add(0x9e37_79b9_7f4a_7c15);
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        state = z ^ (z >> 31);
    }
    state
}

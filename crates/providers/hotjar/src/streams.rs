//! The three streams, all over the sites the connection names (Hotjar's documented
//! API has no call that lists an organization's sites):
//!
//! - `sites`: one page per configured site: the site as a record (its id, the
//!   organization, whether the key may read its surveys, how many it has and how
//!   many are enabled) and the gauges `surveys` and `surveys_enabled` for today,
//!   from a bounded walk of `GET /v1/sites/{site_id}/surveys`. A key whose scope
//!   leaves surveys out (Observe Scale: user lookup only) still lists its sites,
//!   with `survey_access: false` and no gauges.
//! - `surveys`: `GET /v1/sites/{site_id}/surveys?with_questions=true`, page by page,
//!   site after site; each survey with its `site_id`.
//! - `survey_responses`: for each site, its surveys (listed on entering the site),
//!   and for each survey `GET .../surveys/{survey_id}/responses`, page by page to
//!   the end. Hotjar offers no date filter, so every pass reads every response;
//!   records upsert. The KPI `survey_responses` (responses per day, by survey and
//!   site) is counted over a survey's whole walk — the counts so far ride in the
//!   cursor — and written when its last page is read, so a day's point is always a
//!   whole day's total. Days without responses since the survey's creation (within
//!   [`ZERO_FILL_DAYS`]) are written as 0, so a day whose responses were deleted
//!   reads 0 rather than its old count.
//!
//! A site Hotjar does not know for the key (404) is `Invalid` naming `site_ids`; a
//! survey deleted between its listing and its responses (404) is skipped.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration as Days, NaiveDate};
use http::Method;
use junction_core::{AdapterError, Connection, KpiPoint, Page, ReadRequest, Record};
use junction_toolkit::{
    Client, PageToken, cursor,
    data::{self, Fields},
    paging,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::{
    api::{self, PAGING},
    spec::{
        ORGANIZATION_ID, SITE_IDS, SITES, SURVEY_RESPONSES, SURVEY_RESPONSES_METRIC, SURVEYS,
        SURVEYS_ENABLED, SURVEYS_METRIC, site_ids,
    },
};

/// The most pages of one site's survey list a walk reads (100 surveys a page).
pub(crate) const MAX_SURVEY_PAGES: usize = 50;

/// How many days back from today a survey's days without responses are written
/// as 0.
pub const ZERO_FILL_DAYS: i64 = 90;

/// One page of a list: its items and the next page's token.
struct Listed {
    items: Vec<Value>,
    next: Option<PageToken>,
}

/// What a 404 of a site's or a survey's list means.
#[derive(Clone, Copy)]
enum Missing<'a> {
    Site(&'a str),
    Survey,
}

/// `GET path` at `token`, with `query`: the items at `/results` and the next token.
async fn list(
    client: &Client<'_>,
    path: &str,
    token: &PageToken,
    size: u32,
    query: &[(&str, &str)],
    missing: Missing<'_>,
) -> Result<Option<Listed>, AdapterError> {
    let request = client
        .page_request(Method::GET, path, &PAGING, token, size)?
        .query(query);
    let fetched = client
        .fetch_with(request, |err, refusal| match missing {
            Missing::Site(site) if refusal.status.as_u16() == 404 => AdapterError::invalid_field(
                SITE_IDS.text.name,
                format!(
                    "Hotjar knows no site {site} for this API key: check the site ids under \
                     Sites & Organizations"
                ),
            ),
            _ => err,
        })
        .await;
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(AdapterError::Provider { status: 404, .. }) if matches!(missing, Missing::Survey) => {
            return Ok(None);
        }
        Err(err) => return Err(err),
    };
    let next = PAGING.next(token, size, &fetched.headers, &fetched.body)?;
    match fetched.body.pointer(PAGING.items) {
        Some(Value::Array(items)) => Ok(Some(Listed {
            items: items.clone(),
            next,
        })),
        _ => Err(AdapterError::unavailable(format!(
            "malformed response body: no list at `{}`",
            PAGING.items
        ))),
    }
}

/// Every survey of `site` (bounded walk), without their questions.
async fn all_surveys(client: &Client<'_>, site: &str) -> Result<Vec<Value>, AdapterError> {
    let path = format!("sites/{site}/surveys");
    let size = PAGING.size.max;
    let pages = paging::walk(MAX_SURVEY_PAGES, |token| {
        let path = &path;
        async move {
            let listed = list(
                client,
                path,
                &token,
                size,
                &[("with_questions", "false")],
                Missing::Site(site),
            )
            .await?
            .ok_or_else(|| AdapterError::unavailable("Hotjar lost the survey list"))?;
            Ok((listed.items, listed.next))
        }
    })
    .await?;
    Ok(pages.into_iter().flatten().collect())
}

/// A survey's id, checked before it goes into a path.
fn survey_id(survey: &Value) -> Result<String, AdapterError> {
    let fields = Fields::new(survey, "Hotjar sent a survey");
    let id = data::text(fields.get("id")).ok_or_else(|| fields.malformed("id", "is missing"))?;
    if id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(id)
    } else {
        Err(fields.malformed("id", "is not an id"))
    }
}

/// The day of an RFC 3339 time at `field`, in UTC.
fn day_of(fields: &Fields<'_>, field: &str) -> Result<NaiveDate, AdapterError> {
    DateTime::parse_from_rfc3339(&fields.text(field)?)
        .map(|time| time.to_utc().date_naive())
        .map_err(|_| fields.malformed(field, "is not an RFC 3339 time"))
}

/// `object` with `extra` fields added (the site or survey it belongs to).
fn annotated(object: &Value, extra: &[(&str, &str)]) -> Value {
    let mut map = object.as_object().cloned().unwrap_or_else(Map::new);
    for (name, value) in extra {
        map.insert((*name).to_owned(), json!(value));
    }
    Value::Object(map)
}

/// Where `site` stands among the configured sites; a site no longer configured
/// starts the pass over.
fn position(sites: &[String], site: Option<&str>) -> usize {
    site.and_then(|site| sites.iter().position(|s| s == site))
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// sites

/// The stored cursor of `sites`: the site the next page reads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SitesCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    site: Option<String>,
}

/// Reads the page of one configured site.
pub(crate) async fn read_sites(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let sites = site_ids(conn)?;
    let organization = ORGANIZATION_ID.require(conn)?;
    let at = cursor::read::<SitesCursor>(request.cursor.as_ref(), SITES)?.unwrap_or_default();
    let index = position(&sites, at.site.as_deref());
    let site = &sites[index];
    let today = client.context().now().date_naive();
    let (data, kpis) = match all_surveys(client, site).await {
        Ok(surveys) => {
            let enabled = surveys
                .iter()
                .filter(|survey| survey["is_enabled"] == true)
                .count();
            let kpis = vec![
                KpiPoint::total(SURVEYS_METRIC, today, surveys.len() as f64)
                    .with_dimension("site", site),
                KpiPoint::total(SURVEYS_ENABLED, today, enabled as f64)
                    .with_dimension("site", site),
            ];
            let data = json!({
                "id": site,
                "organization_id": organization,
                "survey_access": true,
                "surveys": surveys.len(),
                "surveys_enabled": enabled,
            });
            (data, kpis)
        }
        // The key's scope leaves surveys out: the site is still the user's.
        Err(err) if api::out_of_scope(&err) => (
            json!({"id": site, "organization_id": organization, "survey_access": false}),
            Vec::new(),
        ),
        Err(err) => return Err(err),
    };
    let record = Record {
        external_id: site.clone(),
        data,
        modified_at: None,
    };
    let next = sites.get(index + 1).cloned();
    let has_more = next.is_some();
    cursor::page(vec![record], kpis, &SitesCursor { site: next }, has_more)
}

// ---------------------------------------------------------------------------
// surveys

/// The stored cursor of `surveys`: the site being read and its next page.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SurveysCursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
}

/// Reads one page of one site's surveys, with their questions.
pub(crate) async fn read_surveys(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let sites = site_ids(conn)?;
    let at = cursor::read::<SurveysCursor>(request.cursor.as_ref(), SURVEYS)?.unwrap_or_default();
    let index = position(&sites, at.site.as_deref());
    let site = &sites[index];
    // A page cursor belongs to the site it was read from.
    let page = at
        .page
        .filter(|_| at.site.as_deref() == Some(site.as_str()));
    let token = PageToken::from_cursor(page);
    let size = PAGING.size.pick(request.page_size);
    let listed = list(
        client,
        &format!("sites/{site}/surveys"),
        &token,
        size,
        &[("with_questions", "true")],
        Missing::Site(site),
    )
    .await?
    .ok_or_else(|| AdapterError::unavailable("Hotjar lost the survey list"))?;
    let records = listed
        .items
        .iter()
        .map(|survey| {
            Ok(Record {
                external_id: survey_id(survey)?,
                data: annotated(survey, &[("site_id", site)]),
                modified_at: None,
            })
        })
        .collect::<Result<Vec<_>, AdapterError>>()?;
    let (next, has_more) = match listed.next.and_then(PageToken::into_cursor) {
        Some(page) => (
            SurveysCursor {
                site: Some(site.clone()),
                page: Some(page),
            },
            true,
        ),
        None => match sites.get(index + 1) {
            Some(next) => (
                SurveysCursor {
                    site: Some(next.clone()),
                    page: None,
                },
                true,
            ),
            None => (SurveysCursor::default(), false),
        },
    };
    cursor::page(records, Vec::new(), &next, has_more)
}

// ---------------------------------------------------------------------------
// survey_responses

/// A survey whose responses are still to be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SurveyRef {
    id: String,
    /// The day it was created, where Hotjar said (zero-filling starts there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created: Option<NaiveDate>,
}

/// The stored cursor of `survey_responses`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ResponsesCursor {
    /// The site being read; `None` before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    site: Option<String>,
    /// The site's surveys still to read, the current one first; `None` until they
    /// are listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    surveys: Option<Vec<SurveyRef>>,
    /// The next page of the current survey's responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    page: Option<String>,
    /// Responses counted so far for the current survey, by day.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    counts: BTreeMap<NaiveDate, u64>,
}

/// Reads one page of responses (or, at a survey's end, its day counts too).
pub(crate) async fn read_responses(
    client: &Client<'_>,
    conn: &Connection,
    request: &ReadRequest,
) -> Result<Page, AdapterError> {
    let sites = site_ids(conn)?;
    let mut at = cursor::read::<ResponsesCursor>(request.cursor.as_ref(), SURVEY_RESPONSES)?
        .unwrap_or_default();
    let mut index = position(&sites, at.site.as_deref());
    if at.site.as_deref() != Some(sites[index].as_str()) {
        // A first pass, or the sites changed under the cursor: start the site afresh.
        at = ResponsesCursor::default();
    }
    let size = PAGING.size.pick(request.page_size);
    let today = client.context().now().date_naive();
    // Sites without surveys are passed over here; each site is listed once.
    let (site, survey) = loop {
        let site = &sites[index];
        let surveys = match at.surveys.take() {
            Some(surveys) => surveys,
            None => listed_refs(&all_surveys(client, site).await?)?,
        };
        if let Some(first) = surveys.first().cloned() {
            at.site = Some(site.clone());
            at.surveys = Some(surveys);
            break (site.clone(), first);
        }
        index += 1;
        if index == sites.len() {
            return cursor::page(Vec::new(), Vec::new(), &ResponsesCursor::default(), false);
        }
        at = ResponsesCursor::default();
    };
    let token = PageToken::from_cursor(at.page.take());
    let path = format!("sites/{site}/surveys/{}/responses", survey.id);
    let listed = list(client, &path, &token, size, &[], Missing::Survey).await?;
    let (records, next) = match listed {
        Some(listed) => {
            let records = listed
                .items
                .iter()
                .map(|response| response_record(response, &site, &survey.id, &mut at.counts))
                .collect::<Result<Vec<_>, AdapterError>>()?;
            (records, listed.next.and_then(PageToken::into_cursor))
        }
        // Deleted since it was listed: nothing to count.
        None => (Vec::new(), None),
    };
    if let Some(page) = next {
        at.page = Some(page);
        return cursor::page(records, Vec::new(), &at, true);
    }
    let kpis = day_counts(&survey, &site, &std::mem::take(&mut at.counts), today);
    if let Some(surveys) = at.surveys.as_mut() {
        surveys.remove(0);
        if !surveys.is_empty() {
            return cursor::page(records, kpis, &at, true);
        }
    }
    match sites.get(index + 1) {
        Some(next) => {
            let next = ResponsesCursor {
                site: Some(next.clone()),
                ..ResponsesCursor::default()
            };
            cursor::page(records, kpis, &next, true)
        }
        None => cursor::page(records, kpis, &ResponsesCursor::default(), false),
    }
}

/// The surveys of a list as the cursor keeps them.
fn listed_refs(surveys: &[Value]) -> Result<Vec<SurveyRef>, AdapterError> {
    surveys
        .iter()
        .map(|survey| {
            let fields = Fields::new(survey, "Hotjar sent a survey");
            Ok(SurveyRef {
                id: survey_id(survey)?,
                created: fields
                    .get("created_time")
                    .map(|_| day_of(&fields, "created_time"))
                    .transpose()?,
            })
        })
        .collect()
}

/// A response as its record, counted on its day.
fn response_record(
    response: &Value,
    site: &str,
    survey: &str,
    counts: &mut BTreeMap<NaiveDate, u64>,
) -> Result<Record, AdapterError> {
    let fields = Fields::new(response, "Hotjar sent a survey response");
    let id = data::text(fields.get("id")).ok_or_else(|| fields.malformed("id", "is missing"))?;
    let day = day_of(&fields, "created_time")?;
    *counts.entry(day).or_default() += 1;
    Ok(Record {
        external_id: id,
        data: annotated(response, &[("site_id", site), ("survey_id", survey)]),
        modified_at: None,
    })
}

/// A survey's responses per day as KPI points: every counted day, and 0 for the
/// days without responses from its creation (or first response) within
/// [`ZERO_FILL_DAYS`] through today.
fn day_counts(
    survey: &SurveyRef,
    site: &str,
    counts: &BTreeMap<NaiveDate, u64>,
    today: NaiveDate,
) -> Vec<KpiPoint> {
    let mut days: BTreeMap<NaiveDate, u64> = counts.clone();
    let began = survey.created.or_else(|| counts.keys().next().copied());
    if let Some(began) = began {
        let mut day = began.max(today - Days::days(ZERO_FILL_DAYS - 1));
        while day <= today {
            days.entry(day).or_insert(0);
            day += Days::days(1);
        }
    }
    days.into_iter()
        .map(|(day, count)| {
            KpiPoint::total(SURVEY_RESPONSES_METRIC, day, count as f64)
                .with_dimension("survey", &survey.id)
                .with_dimension("site", site)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_without_responses_since_creation_are_zero() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 31).unwrap();
        let survey = SurveyRef {
            id: "7".into(),
            created: NaiveDate::from_ymd_opt(2026, 3, 28),
        };
        let counts = BTreeMap::from([(NaiveDate::from_ymd_opt(2026, 3, 29).unwrap(), 4)]);
        let points = day_counts(&survey, "1", &counts, today);
        let values: Vec<(String, f64)> = points
            .iter()
            .map(|p| (p.date.to_string(), p.value))
            .collect();
        assert_eq!(
            values,
            [
                ("2026-03-28".to_owned(), 0.0),
                ("2026-03-29".to_owned(), 4.0),
                ("2026-03-30".to_owned(), 0.0),
                ("2026-03-31".to_owned(), 0.0)
            ]
        );
        assert_eq!(points[0].dimensions["survey"], "7");
        assert_eq!(points[0].dimensions["site"], "1");
    }

    #[test]
    fn a_survey_id_that_is_no_id_is_refused_before_a_path_is_built() {
        assert!(survey_id(&json!({"id": "../organizations"})).is_err());
        assert_eq!(survey_id(&json!({"id": 42})).unwrap(), "42");
    }
}

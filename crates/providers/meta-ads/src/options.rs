//! The choices of `ad_account_id`: the ad accounts the connected Meta user can
//! reach, from `GET /me/adaccounts?fields=id,name,currency,account_status`, so a
//! user picks an account by name once connected instead of copying its id out of
//! Ads Manager.
//!
//! The edge pages like every Graph edge: `limit`, the `after` cursor at
//! `paging.cursors.after`, and `paging.next` present while more follow (the same
//! walk as the insights'). The `ads_read` grant is enough.

use junction_toolkit::{
    choices::{Choices, Detail},
    paging::{PageSize, Paging},
};

use crate::{ACCOUNT_STATUSES, insights, spec};

/// The ad account fields the choices show.
pub const AD_ACCOUNT_FIELDS: &str = "id,name,currency,account_status";

/// How `/me/adaccounts` pages: the Graph's cursors, 100 accounts a page.
pub const AD_ACCOUNTS: Paging = Paging {
    size: PageSize {
        default: 100,
        max: 100,
    },
    ..insights::PAGING
};

/// `ad_account_id`'s choices: `act_{id}` by name, described by currency and status.
pub const AD_ACCOUNT_CHOICES: Choices = Choices {
    field: spec::AD_ACCOUNT.name,
    path: "me/adaccounts",
    query: &[("fields", AD_ACCOUNT_FIELDS)],
    paging: AD_ACCOUNTS,
    nested: None,
    value: "/id",
    value_prefix: "",
    label: "/name",
    details: &[
        Detail::at("/currency"),
        Detail::at("/account_status").named(&ACCOUNT_STATUSES),
    ],
};

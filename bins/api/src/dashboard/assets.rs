//! The dashboard's static files, embedded in the binary: the stylesheet, the small
//! script that enhances it, and htmx (vendored from npm, see
//! `assets/vendor/htmx/README.md`). Pages link them as `/dashboard/assets/{name}?v=
//! {fingerprint}`: a fingerprinted URL is cached for a year (`immutable`); any
//! other is revalidated with its `ETag`.

use std::{hash::Hasher, sync::LazyLock};

use actix_web::{HttpRequest, HttpResponse, http::header, web};

/// One embedded file.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard.css"),
    },
    Asset {
        name: "dashboard.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/dashboard.js"),
    },
    Asset {
        name: "connect.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/connect.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../assets/vendor/htmx/htmx.min.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("../../assets/favicon.svg"),
    },
];

/// Each asset's fingerprint: a hash of its bytes (changes whenever they do).
static FINGERPRINTS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            // SipHash with fixed keys: stable for a given build, which is all a
            // cache-busting fingerprint needs.
            let mut hasher = std::hash::DefaultHasher::new();
            hasher.write(asset.bytes);
            format!("{:016x}", hasher.finish())
        })
        .collect()
});

fn find(name: &str) -> Option<(&'static Asset, &'static str)> {
    let index = ASSETS.iter().position(|asset| asset.name == name)?;
    Some((&ASSETS[index], FINGERPRINTS[index].as_str()))
}

/// The URL pages link an asset by (with its fingerprint).
pub fn url(name: &str) -> String {
    match find(name) {
        Some((_, fingerprint)) => format!("/dashboard/assets/{name}?v={fingerprint}"),
        None => format!("/dashboard/assets/{name}"),
    }
}

/// `GET /dashboard/assets/{name}`: no session needed.
pub async fn serve(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    let Some((asset, fingerprint)) = find(&name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset");
    };
    let etag = format!("\"{fingerprint}\"");
    let fingerprinted = req
        .query_string()
        .split('&')
        .any(|pair| pair.strip_prefix("v=") == Some(fingerprint));
    let cache = if fingerprinted {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header(("X-Content-Type-Options", "nosniff"));
    if matches {
        return response.finish();
    }
    response.content_type(asset.content_type).body(asset.bytes)
}

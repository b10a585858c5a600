//! Static files, embedded in the binary. Each is served under a name that
//! carries a hash of its content (`app.3f9c2a1b.css`), so browsers may cache
//! it forever and still see a new version the moment it changes.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};

use crate::error::AppError;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset { name: "app.css", content_type: "text/css; charset=utf-8", bytes: include_bytes!("../../static/app.css") },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/app.js"),
    },
    // Vendored from the npm package htmx.org; version and sha256 in static/README.md.
    Asset {
        name: "htmx-2.0.11.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../static/htmx-2.0.11.min.js"),
    },
    Asset { name: "favicon.svg", content_type: "image/svg+xml", bytes: include_bytes!("../../static/favicon.svg") },
];

/// (hashed file name, asset), computed once.
static HASHED: LazyLock<Vec<(String, &'static Asset)>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let short = &crate::digest::sha256_hex(asset.bytes)[..8];
            let (stem, ext) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
            (format!("{stem}.{short}.{ext}"), asset)
        })
        .collect()
});

/// The URL of an embedded file, for templates.
pub fn url(name: &str) -> String {
    HASHED
        .iter()
        .find(|(_, asset)| asset.name == name)
        .map(|(hashed, _)| format!("/static/{hashed}"))
        .unwrap_or_default()
}

pub async fn serve(Path(file): Path<String>) -> Result<Response, AppError> {
    let (_, asset) = HASHED.iter().find(|(hashed, _)| *hashed == file).ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable")),
        ],
        asset.bytes,
    )
        .into_response())
}

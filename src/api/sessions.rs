//! The caller's signed-in devices.

use axum::{
    Json,
    extract::{Path, State},
    http::StatusCode,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiClaim, ApiError, ApiResult, ApiUser, ErrorBody, rfc3339};
use crate::{account, app::AppState, auth::ClientInfo, db::sessions};

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionJson {
    id: Uuid,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(format = DateTime)]
    expires_at: String,
    user_agent: Option<String>,
    ip: Option<String>,
    /// The session of the token making this request.
    current: bool,
}

/// Your live sessions, newest first.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "sessions", security(("bearer" = [])),
    responses((status = 200, body = Vec<SessionJson>), (status = 401, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, ApiClaim(claim): ApiClaim) -> ApiResult<Json<Vec<SessionJson>>> {
    let sessions = sessions::list(claim.rows(&state.db)).await?;
    Ok(Json(
        sessions
            .into_iter()
            .map(|s| SessionJson {
                current: s.id == claim.session_id,
                id: s.id,
                created_at: rfc3339(s.created_at),
                last_seen_at: rfc3339(s.last_seen_at),
                expires_at: rfc3339(s.expires_at),
                user_agent: s.user_agent,
                ip: s.ip,
            })
            .collect(),
    ))
}

/// Revoke one of your sessions (your current one included), at once.
#[utoipa::path(delete, path = "/api/v1/sessions/{id}", tag = "sessions", params(("id" = String, Path)),
    security(("bearer" = [])),
    responses((status = 204, description = "Revoked"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiUser(user): ApiUser,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    if !account::revoke_session(&state, &user, id, &client).await? {
        return Err(ApiError::not_found());
    }
    Ok(StatusCode::NO_CONTENT)
}

//! Accounts and tokens.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ApiClaim, ApiError, ApiJson, ApiResult, ApiUser, ErrorBody, rfc3339};
use crate::{
    account::{self, SignIn, SignUp, SignUpError},
    app::AppState,
    auth::{ClientInfo, Renewed, create_session, renew},
    db::users,
    error::AppError,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserJson {
    pub id: Uuid,
    pub email: String,
    pub name: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<users::User> for UserJson {
    fn from(user: users::User) -> Self {
        UserJson { id: user.id, email: user.email, name: user.name, created_at: rfc3339(user.created_at) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignedUp {
    pub user: UserJson,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUpRequest {
    #[schema(example = "ann@example.com", format = Email, max_length = 254)]
    email: String,
    #[schema(example = "fold seven violet lanterns", min_length = 8, max_length = 1024)]
    password: String,
    #[serde(default)]
    #[schema(max_length = 100)]
    name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    email: String,
    password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenPair {
    /// A JWT for `Authorization: Bearer`.
    access_token: String,
    /// Opaque; spent when used, so keep the one each refresh returns.
    refresh_token: String,
    #[schema(example = "Bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    expires_in: u64,
}

fn pair(state: &AppState, access: String, refresh: String) -> TokenPair {
    TokenPair {
        access_token: access,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: state.config.access_token_ttl.as_secs(),
    }
}

/// What a sign-up that waits for confirmation answers, for every address.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignUpAccepted {
    #[schema(example = "Check your inbox to finish signing up.")]
    pub message: &'static str,
}

/// Create an account.
///
/// By default the account exists at once (201) and a taken email is 409.
/// When the server runs with `SIGNUP_CONFIRMATION=email`, every valid
/// sign-up answers 202 instead, whether or not the email has an account: the
/// address is sent a link that creates the account (or a note that it has
/// one), so this answer tells nobody which addresses are registered.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "auth", request_body = SignUpRequest,
    responses(
        (status = 201, description = "Account created", body = SignedUp),
        (status = 202, description = "With SIGNUP_CONFIRMATION=email: a mail is on its way", body = SignUpAccepted),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The email has an account", body = ErrorBody),
        (status = 429, description = "Too many sign-ups from this address; see Retry-After", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    ))]
pub async fn signup(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<SignUpRequest>,
) -> ApiResult<Response> {
    match account::sign_up(&state, &body.email, &body.password, body.name.as_deref(), &client).await {
        Ok(SignUp::Created(user)) => {
            Ok((StatusCode::CREATED, axum::Json(SignedUp { user: user.into() })).into_response())
        }
        Ok(SignUp::MailSent) => {
            let accepted = SignUpAccepted { message: "Check your inbox to finish signing up." };
            Ok((StatusCode::ACCEPTED, axum::Json(accepted)).into_response())
        }
        Err(SignUpError::Invalid(fields)) => Err(ApiError::validation(fields)),
        Err(SignUpError::EmailTaken) => {
            Err(ApiError::new(StatusCode::CONFLICT, "email_taken", "An account with this email already exists."))
        }
        Err(SignUpError::Throttled(wait)) => Err(AppError::TooManyRequests(wait).into()),
        Err(SignUpError::Failed(err)) => Err(err.into()),
    }
}

/// Exchange an email and password for a token pair (a new session).
#[utoipa::path(post, path = "/api/v1/auth/token", tag = "auth", request_body = TokenRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Wrong email or password", body = ErrorBody),
        (status = 429, description = "Too many failed attempts; see Retry-After", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn token(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiJson(body): ApiJson<TokenRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    let user_id = match account::sign_in(&state, &body.email, &body.password, &client).await? {
        SignIn::Success(user_id) => user_id,
        SignIn::Failed => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "That email and password do not match an account.",
            ));
        }
        SignIn::Throttled(wait) => return Err(AppError::TooManyRequests(wait).into()),
    };
    let tokens = create_session(&state, user_id, &client).await?;
    Ok(axum::Json(pair(&state, tokens.access, tokens.refresh)))
}

/// Trade a refresh token for a new pair. The presented token is spent;
/// presenting a spent one again (after a few seconds' grace for parallel
/// renewals) revokes the whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenPair),
        (status = 400, body = ErrorBody),
        (status = 401, description = "Unknown, expired, revoked or spent", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
    ))]
pub async fn refresh(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> ApiResult<axum::Json<TokenPair>> {
    let renewed = renew(&state, &body.refresh_token, "api").await?;
    // The API always needs a refresh token back: inside the grace window the
    // one the first renewal got.
    let Some(Renewed { session_id, user_id, refresh }) = renewed else {
        return Err(ApiError::unauthorized());
    };
    let Some(refresh) = refresh.token() else {
        return Err(ApiError::unauthorized());
    };
    let access = state.keys.issue_access(user_id, session_id, state.config.access_token_ttl).map_err(AppError::from)?;
    Ok(axum::Json(pair(&state, access, refresh)))
}

/// Revoke the session of the presented token, at once.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204, description = "Signed out"), (status = 401, body = ErrorBody)))]
pub async fn logout(
    State(state): State<AppState>,
    client: ClientInfo,
    ApiUser(user): ApiUser,
) -> ApiResult<StatusCode> {
    account::sign_out(&state, &user, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = UserJson), (status = 401, body = ErrorBody)))]
pub async fn me(State(state): State<AppState>, ApiClaim(claim): ApiClaim) -> ApiResult<axum::Json<UserJson>> {
    let found = users::find(claim.rows(&state.db)).await?.ok_or_else(ApiError::unauthorized)?;
    Ok(axum::Json(found.into()))
}

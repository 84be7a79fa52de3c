//! The HTTP API (JSON, camelCase). Admin routes under `/admin` need the admin token; the read
//! routes (ratings, restrictions, live metrics) a caller token (DOMAIN §7). Handlers are thin:
//! they open a transaction, call one operation, and commit.

mod league;
mod operations;
mod reads;

use league::LeagueApi;
use operations::OperationsApi;
use reads::ReadApi;

use std::sync::Arc;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use domain::ErrorName;
use serde::Serialize;
use service_kit::AccessConfig;
use service_kit::access::{SecuritySchemes, require_admin, require_caller};
use utoipa::{OpenApi, ToSchema};

use crate::CoreEvents;
use crate::error::{CoreError, Result, invalid, not_found, rule};

pub fn router(core: CoreEvents, access: Arc<AccessConfig>) -> Router {
    let max_body = core.settings.max_body_bytes;
    let admin = league::routes()
        .merge(operations::routes())
        .route_layer(from_fn_with_state(access.clone(), require_admin));
    let reads = reads::routes().route_layer(from_fn_with_state(access, require_caller));
    Router::new()
        .merge(admin)
        .merge(reads)
        .route("/openapi.json", get(openapi))
        .fallback(|| async { not_found("route") })
        .layer(DefaultBodyLimit::max(max_body))
        .with_state(core)
}

/// `Json` whose rejections answer in the error envelope: 413 `PayloadTooLarge` for a body over
/// the limit, 400 `InvalidRequest` for malformed JSON, unknown or missing fields, invalid
/// values (the message names the field).
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = CoreError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(body_rejection(&rejection)),
        }
    }
}

fn body_rejection(rejection: &JsonRejection) -> CoreError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        rule(ErrorName::PayloadTooLarge, "the request body is too large")
    } else {
        invalid(rejection.body_text())
    }
}

/// Path parameters whose parse failures answer `InvalidRequest`.
#[derive(Debug)]
pub struct Param<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Param<T> {
    type Rejection = CoreError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Param(value))
            .map_err(|rejection: PathRejection| invalid(rejection.body_text()))
    }
}

/// Query strings, the same way.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = CoreError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection: QueryRejection| invalid(rejection.body_text()))
    }
}

/// Runs one operation in its own transaction and commits it.
pub(crate) async fn in_transaction<T>(
    core: &CoreEvents,
    operation: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T>,
) -> Result<T> {
    let mut tx = core.pool.begin().await?;
    let value = operation(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}

/// The error envelope of every client error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorName,
    pub message: String,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "core-events",
        description = "The league data (admin), member restrictions, ratings and live scrim metrics of the scrim platform's core."
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
)]
pub struct ApiDoc;

/// This API's OpenAPI document: the admin and read routes with the shared components.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.merge(LeagueApi::openapi());
    document.merge(OperationsApi::openapi());
    document.merge(ReadApi::openapi());
    document
}

/// `GET /openapi.json`.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi_document())
}

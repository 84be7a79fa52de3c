//! Extractors whose rejections answer in the error envelope: `InvalidRequest` (400) for a body,
//! path or query that does not match the documented schema, `PayloadTooLarge` (413) for a body
//! over the limit.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use domain::ErrorName;
use serde::Deserialize;

use crate::error::{Result, ScrimError, rule};

/// The largest request body accepted. Every body of this API is a few hundred bytes; the limit
/// only keeps a client from making the service buffer megabytes.
pub const BODY_LIMIT: usize = 64 * 1024;

/// `Json` whose rejections answer in the error envelope.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ScrimError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(body_rejection(&rejection)),
        }
    }
}

fn body_rejection(rejection: &JsonRejection) -> ScrimError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        rule(
            ErrorName::PayloadTooLarge,
            format!("the request body is larger than {BODY_LIMIT} bytes"),
        )
    } else {
        invalid(&rejection.body_text())
    }
}

/// Path parameters whose parse failures answer `InvalidRequest`.
#[derive(Debug)]
pub struct Param<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Param<T> {
    type Rejection = ScrimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Param(value))
            .map_err(|rejection: PathRejection| invalid(&rejection.body_text()))
    }
}

/// Query strings, the same way.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ScrimError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection: QueryRejection| invalid(&rejection.body_text()))
    }
}

pub fn invalid(message: &str) -> ScrimError {
    rule(ErrorName::InvalidRequest, message)
}

/// A submission id as it may appear in a path: at most [`SubmissionId::MAX_LEN`] bytes, no
/// control characters (PostgreSQL cannot store NUL, and no id has any).
#[derive(Debug)]
pub struct SubmissionId(pub String);

impl SubmissionId {
    pub const MAX_LEN: usize = 128;
}

impl<'de> Deserialize<'de> for SubmissionId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        if id.is_empty() || id.len() > Self::MAX_LEN || id.chars().any(char::is_control) {
            return Err(serde::de::Error::custom(format!(
                "a submission id has 1 to {} characters and no control characters",
                Self::MAX_LEN
            )));
        }
        Ok(Self(id))
    }
}

/// Reads an optional id from a query string (`organizationId=7`; `7.0` too, as for bodies).
pub fn optional_query_id<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i32>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(|text| id_from_text(&text).map_err(serde::de::Error::custom))
        .transpose()
}

/// An id in a path (`/players/7/scrim`), with the bounds of ids in bodies.
#[derive(Debug, Clone, Copy)]
pub struct PathId(pub i32);

impl<'de> Deserialize<'de> for PathId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        id_from_text(&text)
            .map(PathId)
            .map_err(serde::de::Error::custom)
    }
}

fn id_from_text(text: &str) -> Result<i32, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not an integer"))?;
    let range = domain::wire::ID_MIN as f64..=domain::wire::ID_MAX as f64;
    if value.fract() != 0.0 || !range.contains(&value) {
        return Err(format!(
            "an id is an integer from {} to {}, not {text}",
            domain::wire::ID_MIN,
            domain::wire::ID_MAX
        ));
    }
    Ok(value as i32)
}

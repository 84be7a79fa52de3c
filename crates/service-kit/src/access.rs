//! Who may call a service (the platform's rule: every route but the operational ones needs a
//! caller token, admin routes need the admin token, and a request acts for the user the caller
//! names).
//!
//! Callers are the platform's gateways (the web app's API, the Discord bot), each with its own
//! token from configuration, so a leaked token can be revoked alone and logs say who called.
//! Tokens travel as `Authorization: Bearer <token>`. The user a request acts for travels in
//! [`ACTING_USER_HEADER`]; routes that show private data (lobby passwords, group codes) or act
//! for a player compare it with the data's owner.
//!
//! Use: `router.route_layer(from_fn_with_state(access, require_caller))` on player routes and
//! `require_admin` on admin routes; handlers take a [`Caller`] to know who called.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// The header in which a caller names the core user id it acts for.
pub const ACTING_USER_HEADER: &str = "x-acting-user-id";

/// The `access` section of a service's configuration: `<PREFIX>ACCESS__ADMIN_TOKEN` and one
/// `<PREFIX>ACCESS__CALLER_TOKENS__<CALLER>` per caller (for example `..._GATEWAY`,
/// `..._DISCORD_BOT`).
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// The admin token; without one, admin routes answer 401 to everybody.
    #[serde(default)]
    pub admin_token: Option<SecretString>,
    /// The callers' tokens, by caller name.
    #[serde(default)]
    pub caller_tokens: BTreeMap<String, SecretString>,
}

impl fmt::Debug for AccessConfig {
    /// Names the callers, never the tokens.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessConfig")
            .field(
                "admin_token",
                &self.admin_token.as_ref().map(|_| "[redacted]"),
            )
            .field("callers", &self.caller_tokens.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl AccessConfig {
    /// An access configuration with one caller token and an admin token (tests, `just up`).
    pub fn new(caller: &str, caller_token: &str, admin_token: &str) -> Self {
        Self {
            admin_token: Some(SecretString::from(admin_token.to_owned())),
            caller_tokens: BTreeMap::from([(
                caller.to_owned(),
                SecretString::from(caller_token.to_owned()),
            )]),
        }
    }

    /// Who presented `token`: the admin, a named caller, or nobody.
    fn identify(&self, token: &str) -> Option<CallerIdentity> {
        if self
            .admin_token
            .as_ref()
            .is_some_and(|admin| constant_time_eq(admin.expose_secret(), token))
        {
            return Some(CallerIdentity::Admin);
        }
        // Compare with every token, not stopping at a match, so timing says nothing either.
        let mut found = None;
        for (name, caller_token) in &self.caller_tokens {
            if constant_time_eq(caller_token.expose_secret(), token) {
                found = Some(CallerIdentity::Named(name.clone()));
            }
        }
        found
    }

    /// Logs, once at start, what a misconfigured service would otherwise hide.
    pub fn warn_if_incomplete(&self, service: &str) {
        if self.admin_token.is_none() {
            tracing::warn!(
                service,
                "no admin token configured: every admin route answers 401"
            );
        }
        if self.caller_tokens.is_empty() {
            tracing::warn!(
                service,
                "no caller tokens configured: only the admin token opens the player routes"
            );
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum CallerIdentity {
    Admin,
    Named(String),
}

/// Who called, as established by [`require_caller`] or [`require_admin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The caller's configured name, or `admin`.
    pub name: String,
    /// Whether the admin token was presented (admins may do what any caller may).
    pub is_admin: bool,
    /// The core user id the request acts for, when the caller named one.
    pub acting_user: Option<i32>,
}

impl Caller {
    /// Whether this request may see or act on what belongs to `user_id`: an admin, or a caller
    /// acting for that very user.
    pub fn may_act_for(&self, user_id: i32) -> bool {
        self.is_admin || self.acting_user == Some(user_id)
    }
}

/// Player routes: the admin token or any caller token.
pub async fn require_caller(
    State(access): State<Arc<AccessConfig>>,
    request: Request,
    next: Next,
) -> Response {
    authorise(&access, request, next, false).await
}

/// Admin routes: the admin token only (a caller token is recognised, and refused with 403).
pub async fn require_admin(
    State(access): State<Arc<AccessConfig>>,
    request: Request,
    next: Next,
) -> Response {
    authorise(&access, request, next, true).await
}

async fn authorise(
    access: &AccessConfig,
    mut request: Request,
    next: Next,
    admin_only: bool,
) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(identity) = presented.and_then(|token| access.identify(token)) else {
        let message = if admin_only {
            "this route needs the admin bearer token"
        } else {
            "this route needs a caller bearer token"
        };
        return denied(StatusCode::UNAUTHORIZED, "Unauthorized", message);
    };
    if admin_only && identity != CallerIdentity::Admin {
        return denied(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "this route needs the admin token; a caller token is not enough",
        );
    }
    let acting_user = match acting_user(&request) {
        Ok(user) => user,
        Err(message) => return denied(StatusCode::BAD_REQUEST, "InvalidRequest", &message),
    };
    let caller = match identity {
        CallerIdentity::Admin => Caller {
            name: "admin".to_owned(),
            is_admin: true,
            acting_user,
        },
        CallerIdentity::Named(name) => Caller {
            name,
            is_admin: false,
            acting_user,
        },
    };
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The acting user header: absent, or a positive integer.
fn acting_user(request: &Request) -> Result<Option<i32>, String> {
    let Some(value) = request.headers().get(ACTING_USER_HEADER) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse::<i32>().ok())
        .filter(|id| *id > 0)
        .map(Some)
        .ok_or_else(|| format!("{ACTING_USER_HEADER} must be a positive user id"))
}

/// The platform's error envelope, `{"error": <name>, "message": <text>}`.
fn denied(status: StatusCode, name: &str, message: &str) -> Response {
    (
        status,
        axum::Json(serde_json::json!({ "error": name, "message": message })),
    )
        .into_response()
}

/// Compares without stopping at the first difference, so timing does not reveal a token.
fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Response;

    /// The caller that [`require_caller`] or [`require_admin`] established. A route without
    /// either layer has no caller: it answers 401 rather than run unauthenticated.
    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            denied(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "this route needs a caller bearer token",
            )
        })
    }
}

/// Adds the two bearer schemes (`caller_token`, `admin_token`) to an OpenAPI document; routes
/// name them with `security(("caller_token" = []))`.
#[derive(Debug, Clone, Copy)]
pub struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        for (name, description) in [
            (
                "caller_token",
                "a caller's token (the web gateway, the Discord bot); the admin token also works",
            ),
            ("admin_token", "the admin token"),
        ] {
            components.add_security_scheme(
                name,
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some(description))
                        .build(),
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_identify_the_admin_and_named_callers_and_nothing_else() {
        let mut access = AccessConfig::new("gateway", "gateway-token", "admin-token");
        access
            .caller_tokens
            .insert("discord_bot".into(), SecretString::from("bot-token"));
        assert_eq!(access.identify("admin-token"), Some(CallerIdentity::Admin));
        assert_eq!(
            access.identify("bot-token"),
            Some(CallerIdentity::Named("discord_bot".into()))
        );
        assert_eq!(access.identify("gateway-token-"), None);
        assert_eq!(access.identify(""), None);
        assert_eq!(AccessConfig::default().identify(""), None);
    }

    #[test]
    fn the_configuration_never_prints_a_token() {
        let access = AccessConfig::new("gateway", "gateway-secret", "admin-secret");
        let printed = format!("{access:?}");
        assert!(printed.contains("gateway"), "{printed}");
        assert!(!printed.contains("secret"), "{printed}");
    }

    #[test]
    fn a_caller_may_act_only_for_the_user_it_names_and_an_admin_for_anyone() {
        let caller = Caller {
            name: "gateway".into(),
            is_admin: false,
            acting_user: Some(7),
        };
        assert!(caller.may_act_for(7));
        assert!(!caller.may_act_for(8));
        let anonymous = Caller {
            acting_user: None,
            ..caller.clone()
        };
        assert!(!anonymous.may_act_for(7));
        let admin = Caller {
            is_admin: true,
            ..anonymous
        };
        assert!(admin.may_act_for(7));
    }
}

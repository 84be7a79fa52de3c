//! Platform-wide settings (the original's `sprocket_configuration`): switches an admin sets and
//! notifications reads through `core.platform_settings`.

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::error::{Result, not_found};

/// Whether scrims are disabled: core's record of the last `scrims.disabled` it published.
pub const SCRIMS_DISABLED: &str = "SCRIMS_DISABLED";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformSetting {
    pub key: String,
    /// STRING, INTEGER, FLOAT, ARRAY_STRING or BOOLEAN.
    #[serde(rename = "type")]
    pub setting_type: String,
    pub value: String,
    pub description: String,
}

const COLUMNS: &str = "key, type::text AS setting_type, value, description";

pub async fn list(conn: &mut PgConnection) -> Result<Vec<PlatformSetting>> {
    let sql = format!("SELECT {COLUMNS} FROM core.platform_configuration ORDER BY key");
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .fetch_all(conn)
        .await?)
}

/// Sets `key` (the database checks the value against the key's type).
pub async fn set(conn: &mut PgConnection, key: &str, value: &str) -> Result<PlatformSetting> {
    let sql = format!(
        "UPDATE core.platform_configuration SET value = $2 WHERE key = $1 RETURNING {COLUMNS}"
    );
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(key)
        .bind(value)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| not_found(format!("platform setting {key}")))
}

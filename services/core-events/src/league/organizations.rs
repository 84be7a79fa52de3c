//! Organizations (with their profile) and their typed settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{Target, Written};
use crate::error::{Result, not_found};
use crate::input::{Description, HexColour, Id, Label, SettingKey, SettingValue, WebUrl};

/// An organization and its profile (the branding on notifications).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Organization {
    /// Given only in an import file; the service chooses a new record's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    pub name: Label,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Description>,
    pub website_url: Option<WebUrl>,
    pub primary_color: Option<HexColour>,
    pub secondary_color: Option<HexColour>,
    pub logo_url: Option<WebUrl>,
    /// The organization's own setting values by key; keys not listed take their default.
    /// Absent: the settings are left as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<BTreeMap<SettingKey, SettingValue>>,
}

/// Creates or replaces an organization (and its settings, when given).
pub async fn upsert(
    conn: &mut PgConnection,
    target: Target,
    organization: &Organization,
) -> Result<(Id, Written)> {
    target.check_body_id(organization.id)?;
    if let Target::Existing(id) = target {
        lock(conn, id).await?;
    }
    let row: Option<(i32, bool)> = sqlx::query_as(
        "INSERT INTO core.organizations AS o
             (id, name, description, website_url, primary_color, secondary_color, logo_url)
         VALUES (coalesce($1, nextval('core.organizations_id_seq')), $2, $3, $4, $5, $6, $7)
         ON CONFLICT (id) DO UPDATE SET
             name = EXCLUDED.name, description = EXCLUDED.description,
             website_url = EXCLUDED.website_url, primary_color = EXCLUDED.primary_color,
             secondary_color = EXCLUDED.secondary_color, logo_url = EXCLUDED.logo_url
         WHERE $8 AND (o.name, o.description, o.website_url, o.primary_color, o.secondary_color, o.logo_url)
               IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.description, EXCLUDED.website_url,
                                 EXCLUDED.primary_color, EXCLUDED.secondary_color, EXCLUDED.logo_url)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(organization.name.as_str())
    .bind(organization.description.as_ref().map_or("", Description::as_str))
    .bind(organization.website_url.as_ref().map(WebUrl::as_str))
    .bind(organization.primary_color.as_ref().map(HexColour::as_str))
    .bind(organization.secondary_color.as_ref().map(HexColour::as_str))
    .bind(organization.logo_url.as_ref().map(WebUrl::as_str))
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, written) = super::upserted(row, target)?;
    let written = match &organization.settings {
        Some(settings) => written.and(replace_settings(conn, id, settings).await?),
        None => written,
    };
    Ok((id, written))
}

async fn lock(conn: &mut PgConnection, id: Id) -> Result<()> {
    super::lock_row(conn, "organizations", id, "organization").await
}

/// Makes `settings` the organization's own values: listed keys take the given value, others
/// fall back to their default. The database checks each value against its key's type, bounds
/// and format.
pub async fn replace_settings(
    conn: &mut PgConnection,
    organization: Id,
    settings: &BTreeMap<SettingKey, SettingValue>,
) -> Result<Written> {
    let keys: Vec<&str> = settings.keys().map(SettingKey::as_str).collect();
    let values: Vec<&str> = settings.values().map(SettingValue::as_str).collect();
    let removed = sqlx::query(
        "DELETE FROM core.organization_setting_values
         WHERE organization_id = $1 AND NOT key = ANY($2)",
    )
    .bind(organization.get())
    .bind(&keys)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // The type is filled in from the key by the table's trigger.
    let written = sqlx::query(
        "INSERT INTO core.organization_setting_values AS v (organization_id, key, type, value)
         SELECT $1, key, 'STRING', value FROM unnest($2::text[], $3::text[]) AS s(key, value)
         ON CONFLICT (organization_id, key) DO UPDATE SET value = EXCLUDED.value
         WHERE v.value IS DISTINCT FROM EXCLUDED.value",
    )
    .bind(organization.get())
    .bind(&keys)
    .bind(&values)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(Written::changed_if(removed + written > 0))
}

/// Sets one setting of an organization (`None`: back to the key's default).
pub async fn set_setting(
    conn: &mut PgConnection,
    organization: Id,
    key: &SettingKey,
    value: Option<&SettingValue>,
) -> Result<Setting> {
    lock(conn, organization).await?;
    match value {
        Some(value) => {
            sqlx::query(
                "INSERT INTO core.organization_setting_values AS v (organization_id, key, type, value)
                 VALUES ($1, $2, 'STRING', $3)
                 ON CONFLICT (organization_id, key) DO UPDATE SET value = EXCLUDED.value
                 WHERE v.value IS DISTINCT FROM EXCLUDED.value",
            )
            .bind(organization.get())
            .bind(key.as_str())
            .bind(value.as_str())
            .execute(&mut *conn)
            .await?;
        }
        None => {
            sqlx::query(
                "DELETE FROM core.organization_setting_values WHERE organization_id = $1 AND key = $2",
            )
            .bind(organization.get())
            .bind(key.as_str())
            .execute(&mut *conn)
            .await?;
        }
    }
    settings(conn, organization)
        .await?
        .into_iter()
        .find(|setting| setting.key == key.as_str())
        .ok_or_else(|| not_found(format!("setting key {key}")))
}

/// One setting of an organization as it applies: the organization's value, else the default.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Setting {
    pub key: String,
    /// STRING, INTEGER, FLOAT, ARRAY_STRING or BOOLEAN.
    #[serde(rename = "type")]
    pub setting_type: String,
    /// The value in force (`null`: not set and no default).
    pub value: Option<String>,
    pub default_value: Option<String>,
    /// Whether the organization set its own value.
    pub is_set: bool,
    pub description: String,
}

/// Every setting key with the value in force for `organization`.
pub async fn settings(conn: &mut PgConnection, organization: Id) -> Result<Vec<Setting>> {
    super::ensure_exists(conn, "organizations", organization, "organization").await?;
    Ok(sqlx::query_as(
        "SELECT k.key, k.type::text AS setting_type, coalesce(v.value, k.default_value) AS value,
                k.default_value, v.value IS NOT NULL AS is_set, k.description
         FROM core.organization_setting_keys k
         LEFT JOIN core.organization_setting_values v ON v.key = k.key AND v.organization_id = $1
         ORDER BY k.key",
    )
    .bind(organization.get())
    .fetch_all(&mut *conn)
    .await?)
}

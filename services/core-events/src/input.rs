//! Validated input values: every string and id a request or an import file gives core is parsed
//! into one of these before it reaches SQL (no NUL byte, bounded lengths, the formats the schema
//! requires), so bad input is a 400 naming the field rather than a database error.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Why a value was refused; shown to the client with the field's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(message.into()))
}

/// Text without control characters (NUL above all: PostgreSQL cannot store it).
fn plain_text(text: &str, what: &str, allow_newlines: bool) -> Result<(), Invalid> {
    let bad = text
        .chars()
        .find(|c| c.is_control() && !(allow_newlines && (*c == '\n' || *c == '\t')));
    match bad {
        Some(c) => refuse(format!(
            "{what} must not contain the control character {c:?}"
        )),
        None => Ok(()),
    }
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(try_from = "String", into = "String")]
        #[schema(value_type = String)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = Invalid;

            fn try_from(value: String) -> Result<Self, Invalid> {
                let parse: fn(String) -> Result<String, Invalid> = $parse;
                parse(value).map(Self)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_value!(
    /// A name: 1 to 100 characters after trimming, no control characters.
    Label,
    |value| {
        let trimmed = value.trim();
        plain_text(trimmed, "a name", false)?;
        match trimmed.chars().count() {
            1..=100 => Ok(trimmed.to_owned()),
            _ => refuse("a name must have 1 to 100 characters"),
        }
    }
);

string_value!(
    /// Free text: at most 2000 characters; newlines allowed, other control characters not.
    Description,
    |value| {
        plain_text(&value, "a description", true)?;
        if value.chars().count() > 2000 {
            return refuse("a description has at most 2000 characters");
        }
        Ok(value)
    }
);

string_value!(
    /// A reason given for an admin action: 1 to 500 characters.
    Reason,
    |value| {
        let trimmed = value.trim();
        plain_text(trimmed, "a reason", true)?;
        match trimmed.chars().count() {
            1..=500 => Ok(trimmed.to_owned()),
            _ => refuse("a reason must have 1 to 500 characters"),
        }
    }
);

string_value!(
    /// An http(s) URL (a website, a logo, a photo), at most 2048 characters.
    WebUrl,
    |value| {
        let rest = value
            .strip_prefix("https://")
            .or_else(|| value.strip_prefix("http://"));
        match rest {
            Some(rest)
                if !rest.is_empty()
                    && value.len() <= 2048
                    && !value.chars().any(|c| c.is_whitespace() || c.is_control()) =>
            {
                Ok(value)
            }
            _ => refuse("a URL must start with https:// or http:// and have no spaces (2048 characters at most)"),
        }
    }
);

string_value!(
    /// A Discord webhook URL: `https://discord.com/api/webhooks/<id>/<token>`.
    WebhookUrl,
    |value| {
        if is_webhook_url(&value) {
            Ok(value)
        } else {
            refuse("a webhook URL must look like https://discord.com/api/webhooks/<id>/<token>")
        }
    }
);

/// The Discord webhook URLs notifications may post to.
fn is_webhook_url(value: &str) -> bool {
    let Some(rest) = value.strip_prefix("https://") else {
        return false;
    };
    let rest = rest
        .strip_prefix("canary.")
        .or_else(|| rest.strip_prefix("ptb."))
        .unwrap_or(rest);
    let Some(path) = rest
        .strip_prefix("discord.com/api/webhooks/")
        .or_else(|| rest.strip_prefix("discordapp.com/api/webhooks/"))
    else {
        return false;
    };
    let Some((id, token)) = path.split_once('/') else {
        return false;
    };
    value.len() <= 2048
        && is_digits(id, 20)
        && (1..=200).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn is_digits(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
}

string_value!(
    /// A Discord id (user, role, server, emoji): up to 20 decimal digits.
    Snowflake,
    |value| {
        if is_digits(&value, 20) {
            Ok(value)
        } else {
            refuse("a Discord id is 1 to 20 decimal digits")
        }
    }
);

string_value!(
    /// A colour as `#RRGGBB`.
    HexColour,
    |value| {
        let ok = value.len() == 7
            && value.starts_with('#')
            && value[1..].bytes().all(|b| b.is_ascii_hexdigit());
        if ok {
            Ok(value)
        } else {
            refuse("a colour is written #RRGGBB")
        }
    }
);

string_value!(
    /// A short code (game mode, skill group, franchise): uppercase letters, digits and
    /// underscores, starting with a letter or digit, at most 32 characters (the schema narrows
    /// some: 16 for skill groups, 8 for franchises).
    Code,
    |value| {
        let bytes = value.as_bytes();
        let ok = (1..=32).contains(&bytes.len())
            && (bytes[0].is_ascii_uppercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
        if ok {
            Ok(value)
        } else {
            refuse("a code has 1 to 32 uppercase letters, digits or underscores")
        }
    }
);

string_value!(
    /// A platform account id: Steam id64, Xbox XUID, PSN or Switch id, or an Epic account id.
    AccountId,
    |value| {
        let ok = (1..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
        if ok {
            Ok(value)
        } else {
            refuse("a platform account id has 1 to 64 letters, digits or _ . : -")
        }
    }
);

string_value!(
    /// A league match's submission id: `match-` and 1 to 80 letters, digits or dashes.
    MatchSubmissionId,
    |value| {
        let ok = value.strip_prefix("match-").is_some_and(|rest| {
            (1..=80).contains(&rest.len())
                && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
        if ok {
            Ok(value)
        } else {
            refuse("a league match's submission id is match- followed by 1 to 80 letters, digits or dashes")
        }
    }
);

string_value!(
    /// An organization setting's key: `SCRIM_REQUIRED_RATIFICATIONS` and the like.
    SettingKey,
    |value| {
        let bytes = value.as_bytes();
        let ok = (1..=64).contains(&bytes.len())
            && bytes[0].is_ascii_uppercase()
            && bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
        if ok {
            Ok(value)
        } else {
            refuse("a setting key has 1 to 64 uppercase letters, digits or underscores")
        }
    }
);

string_value!(
    /// A setting's value as text (its key's type decides how it must read): at most 8192
    /// characters, no control characters.
    SettingValue,
    |value| {
        plain_text(&value, "a setting value", false)?;
        if value.chars().count() > 8192 {
            return refuse("a setting value has at most 8192 characters");
        }
        Ok(value)
    }
);

/// A record id: a positive 32-bit integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i32")]
pub struct Id(i32);

impl utoipa::PartialSchema for Id {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int32)))
            .minimum(Some(1))
            .into()
    }
}

impl ToSchema for Id {}

impl Id {
    pub fn get(self) -> i32 {
        self.0
    }

    /// An id read back from the database (whose CHECKs keep ids positive).
    pub(crate) fn stored(id: i32) -> Self {
        Self(id)
    }
}

impl TryFrom<i64> for Id {
    type Error = Invalid;

    fn try_from(value: i64) -> Result<Self, Invalid> {
        match i32::try_from(value) {
            Ok(id) if id > 0 => Ok(Self(id)),
            _ => refuse(format!("an id is a positive 32-bit integer, not {value}")),
        }
    }
}

impl From<Id> for i32 {
    fn from(id: Id) -> Self {
        id.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A salary (or a salary cap): 0 to 99999.9 in steps of 0.1.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Salary(f64);

impl utoipa::PartialSchema for Salary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .maximum(Some(99_999.9))
            .multiple_of(Some(0.1))
            .into()
    }
}

impl ToSchema for Salary {}

impl Salary {
    pub const ZERO: Salary = Salary(0.0);

    pub fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Salary {
    type Error = Invalid;

    fn try_from(value: f64) -> Result<Self, Invalid> {
        let tenths = value * 10.0;
        if value.is_finite()
            && (0.0..=99_999.9).contains(&value)
            && (tenths - tenths.round()).abs() < 1e-6
        {
            Ok(Self((tenths.round()) / 10.0))
        } else {
            refuse(format!(
                "a salary is between 0 and 99999.9 in steps of 0.1, not {value}"
            ))
        }
    }
}

impl From<Salary> for f64 {
    fn from(salary: Salary) -> Self {
        salary.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_free_of_control_characters() {
        assert_eq!(
            Label::try_from("  Demo League ".to_owned()).map(String::from),
            Ok("Demo League".to_owned())
        );
        assert!(Label::try_from(String::new()).is_err());
        assert!(Label::try_from("a\0b".to_owned()).is_err());
        assert!(Label::try_from("x".repeat(101)).is_err());
        assert!(Description::try_from("two\nlines".to_owned()).is_ok());
        assert!(Description::try_from("nul\0".to_owned()).is_err());
    }

    #[test]
    fn webhook_urls_must_be_discord_webhooks() {
        for good in [
            "https://discord.com/api/webhooks/123/abc-DEF_1.2",
            "https://canary.discord.com/api/webhooks/1/x",
            "https://discordapp.com/api/webhooks/99/token",
        ] {
            assert!(WebhookUrl::try_from(good.to_owned()).is_ok(), "{good}");
        }
        for bad in [
            "http://discord.com/api/webhooks/1/x",
            "https://evil.example/api/webhooks/1/x",
            "https://discord.com/api/webhooks/x/y",
            "https://discord.com/api/webhooks/1/",
            "https://discord.com/api/webhooks/1/a b",
        ] {
            assert!(WebhookUrl::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats_are_checked() {
        assert!(Snowflake::try_from("123456789012345678".to_owned()).is_ok());
        assert!(Snowflake::try_from("12a".to_owned()).is_err());
        assert!(HexColour::try_from("#00FFaa".to_owned()).is_ok());
        assert!(HexColour::try_from("00FFaa".to_owned()).is_err());
        assert!(Code::try_from("RL_STANDARD".to_owned()).is_ok());
        assert!(Code::try_from("rl".to_owned()).is_err());
        assert!(AccountId::try_from("8e7b1cfe105b4da2ae491fa82bcaeab1".to_owned()).is_ok());
        assert!(AccountId::try_from("has space".to_owned()).is_err());
        assert!(MatchSubmissionId::try_from("match-1-a".to_owned()).is_ok());
        assert!(MatchSubmissionId::try_from("scrim-1".to_owned()).is_err());
        assert!(WebUrl::try_from("https://example.org/logo.png".to_owned()).is_ok());
        assert!(WebUrl::try_from("javascript:alert(1)".to_owned()).is_err());
    }

    #[test]
    fn ids_are_positive_and_salaries_come_in_tenths() {
        assert!(Id::try_from(1).is_ok());
        assert!(Id::try_from(0).is_err());
        assert!(Id::try_from(i64::from(i32::MAX) + 1).is_err());
        assert_eq!(Salary::try_from(12.5).map(f64::from), Ok(12.5));
        assert!(Salary::try_from(12.55).is_err());
        assert!(Salary::try_from(-1.0).is_err());
        assert!(Salary::try_from(f64::NAN).is_err());
    }
}

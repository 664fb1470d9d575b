//! UTC instants and MOSIP's timestamp text forms.

use std::fmt;

use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::ModelError;

/// `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, the MOSIP response timestamp.
const MOSIP_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
/// ISO local date-time with an optional fraction of 1 to 9 digits.
const LENIENT_FORMAT: &[FormatItem<'static>] = format_description!(
    version = 2,
    "[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond]]]"
);

/// An instant in UTC. Every time the key manager stores or compares is one of these: MOSIP
/// keeps zone-less timestamps that mean UTC.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcTime(OffsetDateTime);

impl UtcTime {
    /// The current instant from the system clock. Code that decides by time takes the
    /// instant from an injected clock instead of calling this.
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// The instant `millis` milliseconds after the Unix epoch.
    pub fn from_unix_millis(millis: i64) -> Result<Self, ModelError> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .map(Self)
            .map_err(|_| ModelError::BadTimestamp(millis.to_string()))
    }

    /// Milliseconds since the Unix epoch (truncated).
    pub fn unix_millis(&self) -> i64 {
        // The range of `OffsetDateTime` (years -9999..=9999) keeps this within i64.
        i64::try_from(self.0.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }

    /// Wraps a `time` instant, converting it to UTC.
    pub fn from_offset(dt: OffsetDateTime) -> Self {
        Self(dt.to_offset(UtcOffset::UTC))
    }

    /// The instant as a `time` value in UTC.
    pub fn as_offset(&self) -> OffsetDateTime {
        self.0
    }

    /// A zone-less date-time meaning UTC, as the database columns hold it.
    pub fn to_primitive(&self) -> PrimitiveDateTime {
        PrimitiveDateTime::new(self.0.date(), self.0.time())
    }

    /// Reads a zone-less database date-time as UTC.
    pub fn from_primitive(dt: PrimitiveDateTime) -> Self {
        Self(dt.assume_utc())
    }

    /// Formats as `yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`, MOSIP's response timestamp.
    pub fn to_mosip_string(&self) -> String {
        // Formatting a valid instant with a fixed description cannot fail.
        self.0.format(MOSIP_FORMAT).unwrap_or_default()
    }

    /// Parses a request timestamp as MOSIP does: an ISO local date-time with optional fraction
    /// and an optional trailing `Z`, read as UTC.
    pub fn parse_lenient(text: &str) -> Result<Self, ModelError> {
        let body = text.strip_suffix('Z').unwrap_or(text);
        PrimitiveDateTime::parse(body, LENIENT_FORMAT)
            .map(Self::from_primitive)
            .map_err(|_| ModelError::BadTimestamp(text.chars().take(64).collect()))
    }

    /// This instant plus `days` whole days, saturating at the end of the representable range.
    pub fn plus_days(&self, days: i64) -> Self {
        self.plus(Duration::days(days))
    }

    /// This instant plus `d` (negative to go back), saturating at the representable range.
    pub fn plus(&self, d: Duration) -> Self {
        Self(self.0.checked_add(d).unwrap_or(if d.is_negative() {
            OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT)
        } else {
            OffsetDateTime::new_utc(time::Date::MAX, time::Time::MAX)
        }))
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_mosip_string())
    }
}

impl fmt::Debug for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UtcTime({})", self.to_mosip_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mosip_format_round_trip() {
        let t = UtcTime::from_unix_millis(1_700_000_000_123).expect("in range");
        assert_eq!(t.to_mosip_string(), "2023-11-14T22:13:20.123Z");
        assert_eq!(UtcTime::parse_lenient("2023-11-14T22:13:20.123Z"), Ok(t));
    }

    #[test]
    fn lenient_parse_accepts_java_local_forms() {
        for text in [
            "2024-01-02T03:04:05",
            "2024-01-02T03:04:05Z",
            "2024-01-02T03:04:05.1",
            "2024-01-02T03:04:05.123456789Z",
        ] {
            assert!(UtcTime::parse_lenient(text).is_ok(), "{text}");
        }
        for text in ["", "2024-01-02", "2024-13-02T03:04:05", "yesterday", "2024-01-02T03:04:05+01:00"] {
            assert!(matches!(UtcTime::parse_lenient(text), Err(ModelError::BadTimestamp(_))), "{text}");
        }
    }

    #[test]
    fn arithmetic_saturates() {
        let t = UtcTime::from_unix_millis(0).expect("epoch");
        assert_eq!(t.plus_days(1).unix_millis(), 86_400_000);
        assert!(t.plus_days(i64::MAX / 100_000_000) > t);
        assert!(t.plus_days(-(i64::MAX / 100_000_000)) < t);
    }
}

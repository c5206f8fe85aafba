//! The log settings a user gives (`sluice run` flags and TOML keys): segment
//! size and age, retention by size and age, the retention cap, compression.
//! Sizes are `1048576`, `64MB` (10⁶), `1MiB` (2²⁰), `10GiB`; durations
//! `30s`, `12h`, `7d`; `none` turns a limit off.
//!
//! A setting comes from, first to last: the flag, the `[[source]]` key, the
//! top-level key, the default (`LogConfig::default()`).

use serde::Deserialize;
use sluice_storage::{Compression, LogConfig};
use std::time::Duration;

/// A TOML value that may be a number or text (`segment_bytes = 1048576` or
/// `segment_bytes = "1MiB"`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum Setting {
    Number(u64),
    Text(String),
}

impl Setting {
    fn text(&self) -> String {
        match self {
            Setting::Number(n) => n.to_string(),
            Setting::Text(t) => t.clone(),
        }
    }
}

/// The log settings of one level (flags, a source, the file's top level).
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct LogSettings {
    pub segment_bytes: Option<Setting>,
    pub segment_age: Option<Setting>,
    pub retention_bytes: Option<Setting>,
    pub retention_age: Option<Setting>,
    pub retention_max_bytes: Option<Setting>,
    pub compression: Option<Setting>,
}

impl LogSettings {
    /// Applies the settings given here over `config`. Errors name the key.
    pub fn apply(&self, config: &mut LogConfig) -> Result<(), String> {
        let named = |key: &str, v: &Setting, e: String| format!("{key} = {:?}: {e}", v.text());
        if let Some(v) = &self.segment_bytes {
            config.segment_bytes = size(&v.text())
                .and_then(|b| b.ok_or_else(|| "a segment needs a size".to_string()))
                .map_err(|e| named("segment_bytes", v, e))?;
            if !(1024..=64 << 30).contains(&config.segment_bytes) {
                return Err(named(
                    "segment_bytes",
                    v,
                    "must be between 1KiB and 64GiB".into(),
                ));
            }
        }
        if let Some(v) = &self.segment_age {
            config.segment_age = duration(&v.text()).map_err(|e| named("segment_age", v, e))?;
        }
        if let Some(v) = &self.retention_bytes {
            config.retention_bytes = size(&v.text()).map_err(|e| named("retention_bytes", v, e))?;
        }
        if let Some(v) = &self.retention_age {
            config.retention_age = duration(&v.text()).map_err(|e| named("retention_age", v, e))?;
        }
        if let Some(v) = &self.retention_max_bytes {
            config.retention_max_bytes =
                size(&v.text()).map_err(|e| named("retention_max_bytes", v, e))?;
        }
        if let Some(v) = &self.compression {
            config.compression = compression(&v.text()).map_err(|e| named("compression", v, e))?;
        }
        Ok(())
    }

    /// The settings of `self`, with `under`'s where `self` has none.
    pub fn or(&self, under: &LogSettings) -> LogSettings {
        LogSettings {
            segment_bytes: self.segment_bytes.clone().or(under.segment_bytes.clone()),
            segment_age: self.segment_age.clone().or(under.segment_age.clone()),
            retention_bytes: self
                .retention_bytes
                .clone()
                .or(under.retention_bytes.clone()),
            retention_age: self.retention_age.clone().or(under.retention_age.clone()),
            retention_max_bytes: self
                .retention_max_bytes
                .clone()
                .or(under.retention_max_bytes.clone()),
            compression: self.compression.clone().or(under.compression.clone()),
        }
    }
}

/// A size in bytes, or `None` for `none`.
pub fn size(text: &str) -> Result<Option<u64>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() {
        return Err("expected a size such as 1048576, 64MB, 1MiB or 10GiB, or none".into());
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{digits} is too large"))?;
    let unit = unit.trim();
    let scale: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "mb" | "m" => 1_000_000,
        "gb" | "g" => 1_000_000_000,
        "tb" | "t" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => {
            return Err(format!(
                "unknown size unit {unit:?}: use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"
            ))
        }
    };
    n.checked_mul(scale)
        .map(Some)
        .ok_or_else(|| "too large".into())
}

/// A duration, or `None` for `none`.
pub fn duration(text: &str) -> Result<Option<Duration>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    if digits.is_empty() || unit.is_empty() {
        return Err("expected a duration with its unit, such as 30s, 12h or 7d, or none".into());
    }
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{digits} is too large"))?;
    let secs: u64 = match unit.trim() {
        "ms" => return Ok(Some(Duration::from_millis(n))),
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        other => {
            return Err(format!(
                "unknown duration unit {other:?}: use ms, s, m, h, d or w"
            ))
        }
    };
    n.checked_mul(secs)
        .map(|s| Some(Duration::from_secs(s)))
        .ok_or_else(|| "too large".into())
}

/// `none`, `zstd` (level 3) or `zstd:LEVEL` (1..=22).
pub fn compression(text: &str) -> Result<Compression, String> {
    match text.trim() {
        "none" => Ok(Compression::None),
        "zstd" => Ok(Compression::Zstd(3)),
        t => match t.strip_prefix("zstd:").map(str::parse::<i32>) {
            Some(Ok(level)) if (1..=22).contains(&level) => Ok(Compression::Zstd(level)),
            Some(_) => Err("the zstd level must be 1..=22".into()),
            None => Err("expected none, zstd or zstd:LEVEL".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(size("1048576"), Ok(Some(1 << 20)));
        assert_eq!(size("64MB"), Ok(Some(64_000_000)));
        assert_eq!(size("1MiB"), Ok(Some(1 << 20)));
        assert_eq!(size("10GiB"), Ok(Some(10 << 30)));
        assert_eq!(size("none"), Ok(None));
        assert!(size("12XB").unwrap_err().contains("unknown size unit"));
        assert!(size("MiB").is_err());
        assert!(size("99999999999TiB").unwrap_err().contains("too large"));
    }

    #[test]
    fn durations() {
        assert_eq!(duration("30s"), Ok(Some(Duration::from_secs(30))));
        assert_eq!(duration("12h"), Ok(Some(Duration::from_secs(12 * 3600))));
        assert_eq!(duration("7d"), Ok(Some(Duration::from_secs(7 * 86_400))));
        assert_eq!(duration("none"), Ok(None));
        assert!(duration("30").unwrap_err().contains("unit"));
        assert!(duration("3y").is_err());
    }

    #[test]
    fn errors_name_the_key_and_levels_layer() {
        let flags = LogSettings {
            compression: Some(Setting::Text("zstd:1".into())),
            ..Default::default()
        };
        let file = LogSettings {
            compression: Some(Setting::Text("none".into())),
            segment_bytes: Some(Setting::Number(65536)),
            retention_age: Some(Setting::Text("none".into())),
            ..Default::default()
        };
        let mut c = LogConfig::default();
        flags.or(&file).apply(&mut c).unwrap();
        assert_eq!(c.compression, Compression::Zstd(1));
        assert_eq!(c.segment_bytes, 65536);
        assert_eq!(c.retention_age, None);
        let bad = LogSettings {
            retention_bytes: Some(Setting::Text("ten".into())),
            ..Default::default()
        };
        let e = bad.apply(&mut c).unwrap_err();
        assert!(e.starts_with("retention_bytes = \"ten\": "), "{e}");
    }

    proptest! {
        #[test]
        fn any_text_is_a_value_or_an_error(t in ".{0,12}") {
            let _ = size(&t);
            let _ = duration(&t);
            let _ = compression(&t);
        }
    }
}

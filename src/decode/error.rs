//! Decoding errors. Each says what was malformed; callers that know the
//! file and byte offset wrap it with [`DecodeError::At`].

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated {what}: needs {need} bytes, {have} left")]
    Truncated {
        what: &'static str,
        need: usize,
        have: usize,
    },
    #[error("invalid {what}: {detail}")]
    Invalid { what: &'static str, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("checksum mismatch: event carries {expected:#010x}, its bytes give {actual:#010x}")]
    Checksum { expected: u32, actual: u32 },
    #[error("row event refers to table id {0}, but no TABLE_MAP for it came before")]
    UnknownTable(u64),
    #[error("{file} at byte {offset}: {source}")]
    At {
        file: String,
        offset: u64,
        #[source]
        source: Box<DecodeError>,
    },
}

/// A field of a binlog event that did not fit or made no sense: the
/// reader names the field, which names the event.
impl From<crate::wire::WireError> for DecodeError {
    fn from(e: crate::wire::WireError) -> Self {
        match e.problem {
            crate::wire::Problem::Truncated { need, have } => DecodeError::Truncated {
                what: e.field,
                need,
                have,
            },
            crate::wire::Problem::Invalid(detail) => DecodeError::Invalid {
                what: e.field,
                detail,
            },
        }
    }
}

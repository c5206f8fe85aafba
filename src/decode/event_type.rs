//! Binlog event type codes (MySQL's `Log_event_type` 0–42, MariaDB's
//! 160–171) and their names, as `SHOW BINLOG EVENTS` and `mysqlbinlog`
//! know them.

pub const UNKNOWN: u8 = 0;
pub const START_V3: u8 = 1;
pub const QUERY: u8 = 2;
pub const STOP: u8 = 3;
pub const ROTATE: u8 = 4;
pub const INTVAR: u8 = 5;
pub const LOAD: u8 = 6;
pub const SLAVE: u8 = 7;
pub const CREATE_FILE: u8 = 8;
pub const APPEND_BLOCK: u8 = 9;
pub const EXEC_LOAD: u8 = 10;
pub const DELETE_FILE: u8 = 11;
pub const NEW_LOAD: u8 = 12;
pub const RAND: u8 = 13;
pub const USER_VAR: u8 = 14;
pub const FORMAT_DESCRIPTION: u8 = 15;
pub const XID: u8 = 16;
pub const BEGIN_LOAD_QUERY: u8 = 17;
pub const EXECUTE_LOAD_QUERY: u8 = 18;
pub const TABLE_MAP: u8 = 19;
pub const PRE_GA_WRITE_ROWS: u8 = 20;
pub const PRE_GA_UPDATE_ROWS: u8 = 21;
pub const PRE_GA_DELETE_ROWS: u8 = 22;
pub const WRITE_ROWS_V1: u8 = 23;
pub const UPDATE_ROWS_V1: u8 = 24;
pub const DELETE_ROWS_V1: u8 = 25;
pub const INCIDENT: u8 = 26;
pub const HEARTBEAT: u8 = 27;
pub const IGNORABLE: u8 = 28;
pub const ROWS_QUERY: u8 = 29;
pub const WRITE_ROWS: u8 = 30;
pub const UPDATE_ROWS: u8 = 31;
pub const DELETE_ROWS: u8 = 32;
pub const GTID: u8 = 33;
pub const ANONYMOUS_GTID: u8 = 34;
pub const PREVIOUS_GTIDS: u8 = 35;
pub const TRANSACTION_CONTEXT: u8 = 36;
pub const VIEW_CHANGE: u8 = 37;
pub const XA_PREPARE: u8 = 38;
pub const PARTIAL_UPDATE_ROWS: u8 = 39;
pub const TRANSACTION_PAYLOAD: u8 = 40;
pub const HEARTBEAT_V2: u8 = 41;
pub const GTID_TAGGED: u8 = 42;
/// Amazon Aurora's private event (padding); no body anyone needs.
pub const AURORA_PRIVATE: u8 = 100;
pub const MARIADB_ANNOTATE_ROWS: u8 = 160;
pub const MARIADB_BINLOG_CHECKPOINT: u8 = 161;
pub const MARIADB_GTID: u8 = 162;
pub const MARIADB_GTID_LIST: u8 = 163;
pub const MARIADB_START_ENCRYPTION: u8 = 164;
pub const MARIADB_QUERY_COMPRESSED: u8 = 165;
pub const MARIADB_WRITE_ROWS_COMPRESSED_V1: u8 = 166;
pub const MARIADB_UPDATE_ROWS_COMPRESSED_V1: u8 = 167;
pub const MARIADB_DELETE_ROWS_COMPRESSED_V1: u8 = 168;
pub const MARIADB_WRITE_ROWS_COMPRESSED: u8 = 169;
pub const MARIADB_UPDATE_ROWS_COMPRESSED: u8 = 170;
pub const MARIADB_DELETE_ROWS_COMPRESSED: u8 = 171;

/// True for every rows event (WRITE/UPDATE/DELETE in all versions, partial
/// JSON updates, MariaDB's compressed ones).
pub fn is_rows(t: u8) -> bool {
    matches!(t, 20..=25 | 30..=32 | 39 | 166..=171)
}

/// The name `walk_events.py` and the corpus manifest use.
pub fn name(t: u8) -> std::borrow::Cow<'static, str> {
    let n = match t {
        0 => "UNKNOWN_EVENT",
        1 => "START_EVENT_V3",
        2 => "QUERY_EVENT",
        3 => "STOP_EVENT",
        4 => "ROTATE_EVENT",
        5 => "INTVAR_EVENT",
        6 => "LOAD_EVENT",
        7 => "SLAVE_EVENT",
        8 => "CREATE_FILE_EVENT",
        9 => "APPEND_BLOCK_EVENT",
        10 => "EXEC_LOAD_EVENT",
        11 => "DELETE_FILE_EVENT",
        12 => "NEW_LOAD_EVENT",
        13 => "RAND_EVENT",
        14 => "USER_VAR_EVENT",
        15 => "FORMAT_DESCRIPTION_EVENT",
        16 => "XID_EVENT",
        17 => "BEGIN_LOAD_QUERY_EVENT",
        18 => "EXECUTE_LOAD_QUERY_EVENT",
        19 => "TABLE_MAP_EVENT",
        20 => "PRE_GA_WRITE_ROWS_EVENT",
        21 => "PRE_GA_UPDATE_ROWS_EVENT",
        22 => "PRE_GA_DELETE_ROWS_EVENT",
        23 => "WRITE_ROWS_EVENT_V1",
        24 => "UPDATE_ROWS_EVENT_V1",
        25 => "DELETE_ROWS_EVENT_V1",
        26 => "INCIDENT_EVENT",
        27 => "HEARTBEAT_LOG_EVENT",
        28 => "IGNORABLE_LOG_EVENT",
        29 => "ROWS_QUERY_LOG_EVENT",
        30 => "WRITE_ROWS_EVENT",
        31 => "UPDATE_ROWS_EVENT",
        32 => "DELETE_ROWS_EVENT",
        33 => "GTID_LOG_EVENT",
        34 => "ANONYMOUS_GTID_LOG_EVENT",
        35 => "PREVIOUS_GTIDS_LOG_EVENT",
        36 => "TRANSACTION_CONTEXT_EVENT",
        37 => "VIEW_CHANGE_EVENT",
        38 => "XA_PREPARE_LOG_EVENT",
        39 => "PARTIAL_UPDATE_ROWS_EVENT",
        40 => "TRANSACTION_PAYLOAD_EVENT",
        41 => "HEARTBEAT_LOG_EVENT_V2",
        42 => "GTID_TAGGED_LOG_EVENT",
        160 => "ANNOTATE_ROWS_EVENT",
        161 => "BINLOG_CHECKPOINT_EVENT",
        162 => "GTID_EVENT",
        163 => "GTID_LIST_EVENT",
        164 => "START_ENCRYPTION_EVENT",
        165 => "QUERY_COMPRESSED_EVENT",
        166 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
        167 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
        168 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
        169 => "WRITE_ROWS_COMPRESSED_EVENT",
        170 => "UPDATE_ROWS_COMPRESSED_EVENT",
        171 => "DELETE_ROWS_COMPRESSED_EVENT",
        other => return format!("TYPE_{other}").into(),
    };
    n.into()
}

//! Validation limits and name rules shared by the master (which enforces them) and node
//! firmware (which should respect them). Nothing here needs an allocator.

/// The most readings one report (or one backlog entry) may carry.
pub const MAX_READINGS_PER_REPORT: usize = 64;

/// The most backlog entries one report may carry (CONTRACT §4: `backlog` holds ≤ 1000 entries).
pub const MAX_BACKLOG_ENTRIES: usize = 1000;

/// The largest request body the master accepts; bigger bodies are answered 413 (CONTRACT §4).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The longest sensor name, in bytes.
pub const MAX_SENSOR_NAME_LEN: usize = 64;

/// The longest node id, in bytes.
pub const MAX_NODE_ID_LEN: usize = 63;

/// Whether `name` is a valid sensor name: `[a-z0-9_]{1,64}`.
pub fn is_valid_sensor_name(name: &str) -> bool {
    (1..=MAX_SENSOR_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Whether `id` is a valid node id: `[a-z0-9][a-z0-9_-]{0,62}`.
pub fn is_valid_node_id(id: &str) -> bool {
    let mut bytes = id.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    id.len() <= MAX_NODE_ID_LEN
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensor_names_follow_the_lowercase_underscore_rule() {
        for good in ["soil_moisture", "t", "co2_ppm", "_x", "0", &"a".repeat(64)] {
            assert!(
                is_valid_sensor_name(good),
                "{good:?} should be a valid sensor name"
            );
        }
        for bad in [
            "",
            "Soil",
            "soil-moisture",
            "soil moisture",
            "é",
            &"a".repeat(65),
        ] {
            assert!(
                !is_valid_sensor_name(bad),
                "{bad:?} should be rejected as a sensor name"
            );
        }
    }

    #[test]
    fn node_ids_start_alphanumeric_and_allow_dashes_after() {
        for good in ["bed-1", "tank", "0", "a_b-c", &"a".repeat(63)] {
            assert!(is_valid_node_id(good), "{good:?} should be a valid node id");
        }
        for bad in ["", "-bed", "_bed", "Bed", "bed.1", "bed/1", &"a".repeat(64)] {
            assert!(
                !is_valid_node_id(bad),
                "{bad:?} should be rejected as a node id"
            );
        }
    }
}

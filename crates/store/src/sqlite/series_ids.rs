//! The writer's cache of series ids: each `(node, sensor)` pair is looked up or created in the
//! `series` table once, then every reading refers to it by number.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::database_error;
use crate::StoreError;

/// Series ids by node, then by sensor (two levels so a lookup needs no owned key).
#[derive(Debug, Default)]
pub(crate) struct SeriesIds {
    by_node: HashMap<String, HashMap<String, i64>>,
}

impl SeriesIds {
    /// The id of the `(node, sensor)` series, created in `connection`'s transaction if new.
    pub(crate) fn id(
        &mut self,
        connection: &Connection,
        node: &str,
        sensor: &str,
    ) -> Result<i64, StoreError> {
        if let Some(id) = self
            .by_node
            .get(node)
            .and_then(|sensors| sensors.get(sensor))
        {
            return Ok(*id);
        }
        let id = find_or_create(connection, node, sensor)?;
        self.by_node
            .entry(node.to_owned())
            .or_default()
            .insert(sensor.to_owned(), id);
        Ok(id)
    }

    /// Forgets every id: called when a transaction or savepoint is rolled back, since a series
    /// created inside it no longer exists.
    pub(crate) fn forget_all(&mut self) {
        self.by_node.clear();
    }
}

fn find_or_create(connection: &Connection, node: &str, sensor: &str) -> Result<i64, StoreError> {
    let existing = connection
        .prepare_cached("SELECT id FROM series WHERE node = ?1 AND sensor = ?2")
        .and_then(|mut select| {
            select
                .query_row(params![node, sensor], |row| row.get(0))
                .optional()
        })
        .map_err(database_error("looking up a series"))?;
    match existing {
        Some(id) => Ok(id),
        None => connection
            .prepare_cached("INSERT INTO series (node, sensor) VALUES (?1, ?2) RETURNING id")
            .and_then(|mut insert| insert.query_row(params![node, sensor], |row| row.get(0)))
            .map_err(database_error("creating a series")),
    }
}

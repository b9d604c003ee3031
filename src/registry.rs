//! The SQLite registry: schema, connection setup, and the queries on items.

pub mod schema;

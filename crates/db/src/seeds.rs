//! Development seed data (`database/seeds`), loaded only on request and never in production.

use sqlx::{Connection, PgConnection};

/// `database/seeds/development.sql`: idempotent, with fixed ids and documented passwords.
pub static DEVELOPMENT: &str = include_str!("../../../database/seeds/development.sql");

/// Loads the development seeds in one transaction: all of them or none.
pub async fn load_development(conn: &mut PgConnection) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(DEVELOPMENT).execute(&mut *tx).await?;
    tx.commit().await
}

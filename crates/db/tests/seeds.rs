//! Development seeds (`database/seeds`): they load on a migrated database, and loading them
//! again adds nothing.

use sqlx::PgPool;

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn development_seeds_load_and_reload_without_duplicates(pool: PgPool) {
    let mut conn = pool.acquire().await.expect("connection");
    db::seeds::load_development(&mut conn)
        .await
        .expect("first load");
    db::seeds::load_development(&mut conn)
        .await
        .expect("second load is a no-op");
    let users = sqlx::query_scalar!(r#"SELECT count(*) AS "count!" FROM auth.users"#)
        .fetch_one(&mut *conn)
        .await
        .expect("count");
    assert_eq!(users, 3);
}

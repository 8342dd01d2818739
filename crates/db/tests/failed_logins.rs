//! `users::record_failed_login` against real PostgreSQL: counts under concurrency, locks
//! once, restarts after a lapsed lock.

mod common;

use db::auth::users;
use db::ids::UserId;
use sqlx::PgPool;

const WINDOW_SECS: f64 = 900.0;

async fn alice(pool: &PgPool) -> UserId {
    common::account(pool, "alice").await.id
}

/// `failures` wrong passwords at once, each on its own connection and transaction.
async fn at_once(pool: &PgPool, id: UserId, failures: usize, max: i32) -> Vec<users::FailedLogin> {
    let calls = (0..failures).map(|_| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let mut tx = pool.begin().await.expect("begin");
            let failed = users::record_failed_login(&mut *tx, id, max, WINDOW_SECS)
                .await
                .expect("count");
            tx.commit().await.expect("commit");
            failed
        })
    });
    let mut outcomes = Vec::new();
    for call in calls.collect::<Vec<_>>() {
        outcomes.push(call.await.expect("task"));
    }
    outcomes
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_failures_are_all_counted(pool: PgPool) {
    let id = alice(&pool).await;
    let outcomes = at_once(&pool, id, 12, 100).await;
    let mut counts: Vec<i32> = outcomes.iter().map(|failed| failed.attempts).collect();
    counts.sort();
    assert_eq!(
        counts,
        (1..=12).collect::<Vec<_>>(),
        "each saw its own count"
    );
    let user = users::find(&pool, id).await.expect("find").expect("user");
    assert_eq!(user.failed_login_attempts, 12);
    assert!(user.locked_until.is_none());
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn concurrent_failures_lock_exactly_once(pool: PgPool) {
    let id = alice(&pool).await;
    let outcomes = at_once(&pool, id, 12, 5).await;
    let locking: Vec<_> = outcomes
        .iter()
        .filter(|failed| failed.newly_locked)
        .collect();
    assert_eq!(locking.len(), 1, "{outcomes:?}");
    assert_eq!(locking[0].attempts, 5);
    let until = locking[0].locked_until.expect("lock");
    for failed in &outcomes {
        if failed.attempts == 5 {
            assert_eq!(
                failed.locked_until,
                Some(until),
                "not extended: {outcomes:?}"
            );
        }
    }
    let user = users::find(&pool, id).await.expect("find").expect("user");
    assert_eq!(
        (user.failed_login_attempts, user.locked_until),
        (5, Some(until)),
        "failures while locked are not counted"
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_lapsed_lock_starts_a_new_count(pool: PgPool) {
    let id = alice(&pool).await;
    for _ in 0..5 {
        users::record_failed_login(&pool, id, 5, WINDOW_SECS)
            .await
            .expect("count");
    }
    sqlx::query("UPDATE auth.users SET locked_until = now() - interval '1 second' WHERE id = $1")
        .bind(id.0)
        .execute(&pool)
        .await
        .expect("lapse");
    let failed = users::record_failed_login(&pool, id, 5, WINDOW_SECS)
        .await
        .expect("count");
    assert_eq!(
        (failed.attempts, failed.locked_until, failed.newly_locked),
        (1, None, false)
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn failures_expire_after_the_window(pool: PgPool) {
    let id = alice(&pool).await;
    for _ in 0..4 {
        users::record_failed_login(&pool, id, 5, 1.0)
            .await
            .expect("count");
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let failed = users::record_failed_login(&pool, id, 5, 1.0)
        .await
        .expect("count");
    assert_eq!((failed.attempts, failed.newly_locked), (1, false));
}

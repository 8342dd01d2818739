//! Values PostgreSQL would refuse when they are bound or indexed are refused at the edge with
//! a 422, and nothing is written: dates outside the four-digit years `YYYY-MM-DD` writes,
//! task labels too long for the labels index, task descriptions too long for the search
//! index, file paths too long for the path indexes.

mod common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::{Value, json};
use sqlx::PgPool;
use testkit::User;

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM projects.{table}"))
        .fetch_one(&app.pool)
        .await
        .expect("count")
}

/// A project of alice's with one task (version 1), and how many tasks there were then: what
/// the tests below try to write past the limits, and check unchanged afterwards.
struct OneTask {
    app: TestApp,
    alice: User,
    base: String,
    task_path: String,
    tasks: i64,
}

impl OneTask {
    async fn new(pool: PgPool, project: &str) -> Self {
        let app = TestApp::new(pool).await;
        let alice = app.user("alice").await;
        let base = app.project_path(project, &alice).await;
        let task = app
            .create_task(&base, json!({ "title": "t" }), &alice)
            .await;
        let task_path = format!("{base}/tasks/{}", task["number"]);
        let tasks = count(&app, "tasks").await;
        Self {
            app,
            alice,
            base,
            task_path,
            tasks,
        }
    }

    /// `value` in `field` is refused with 422 `code` both by a new task and by an edit of the
    /// existing one.
    async fn assert_refused_on_create_and_edit(&self, field: &str, value: &Value, code: &str) {
        let (app, alice) = (&self.app, &self.alice);
        for reply in [
            app.post_as(
                &format!("{}/tasks", self.base),
                json!({ "title": "t", field: value }),
                alice,
            )
            .await,
            app.patch_as(
                &self.task_path,
                json!({ "version": 1, field: value }),
                alice,
            )
            .await,
        ] {
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, code),
                "{}",
                reply.body
            );
        }
    }

    /// No task was added and the existing one is still at version 1.
    async fn assert_nothing_written(&self) {
        assert_eq!(count(&self.app, "tasks").await, self.tasks);
        let task = self.app.get_as(&self.task_path, &self.alice).await;
        assert_eq!(task.body["version"], 1);
    }
}

/// Dates chrono reads but `YYYY-MM-DD` does not write: signed, five-digit, or year 0.
const OUTSIDE_YEARS: [&str; 4] = ["-5000-01-01", "0000-12-31", "+10000-01-01", "-0001-06-15"];

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn dates_outside_the_years_0001_to_9999_are_refused_and_nothing_is_written(pool: PgPool) {
    let one = OneTask::new(pool, "Dates").await;
    let (app, alice, base) = (&one.app, &one.alice, &one.base);
    let epic = app
        .post_as(&format!("{base}/epics"), json!({ "title": "e" }), alice)
        .await
        .body;
    let (tasks, epics) = (one.tasks, count(app, "epics").await);
    let task_path = &one.task_path;
    let epic_path = format!("{base}/epics/{}", epic["id"].as_str().expect("epic id"));

    for date in OUTSIDE_YEARS {
        let attempts: [(&str, &str, Value); 6] = [
            (
                "POST",
                &*format!("{base}/tasks"),
                json!({ "title": "t", "due_date": date }),
            ),
            (
                "PATCH",
                task_path,
                json!({ "version": 1, "due_date": date }),
            ),
            (
                "POST",
                &*format!("{base}/epics"),
                json!({ "title": "e", "start_date": date }),
            ),
            (
                "POST",
                &*format!("{base}/epics"),
                json!({ "title": "e", "target_date": date }),
            ),
            (
                "PATCH",
                &epic_path,
                json!({ "version": 1, "start_date": date }),
            ),
            (
                "PATCH",
                &epic_path,
                json!({ "version": 1, "target_date": date }),
            ),
        ];
        for (method, path, body) in attempts {
            let reply = match method {
                "POST" => app.post_as(path, body.clone(), alice).await,
                _ => app.patch_as(path, body.clone(), alice).await,
            };
            assert_eq!(
                (reply.status, reply.code()),
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
                "{method} {path} {body}: {}",
                reply.body
            );
            let message = reply.body["error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("a year from 0001 to 9999"), "{message}");
        }
    }
    assert_eq!(count(app, "tasks").await, tasks);
    assert_eq!(count(app, "epics").await, epics);
    let unchanged = app.get_as(task_path, alice).await.body;
    assert_eq!(
        (unchanged["version"].clone(), unchanged["due_date"].clone()),
        (json!(1), Value::Null)
    );

    // The ends of the range are dates like any other.
    for date in ["0001-01-01", "9999-12-31"] {
        let created = app
            .create_task(base, json!({ "title": "edge", "due_date": date }), alice)
            .await;
        assert_eq!(created["due_date"], date);
    }
}

/// The same pseudo-random numbers on every run (xorshift64), for text that does not compress.
fn pseudo_random() -> impl Iterator<Item = u64> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    std::iter::repeat_with(move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    })
}

/// Text that does not compress, as a real label would not: the index limit counts the
/// stored (possibly compressed) bytes.
fn incompressible(chars: usize) -> String {
    pseudo_random()
        .take(chars)
        .map(|n| char::from(b'a' + (n % 26) as u8))
        .collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn labels_over_100_characters_are_refused_and_nothing_is_written(pool: PgPool) {
    let one = OneTask::new(pool, "Labels").await;

    // 3,300 bytes is over what one entry of the GIN index on labels holds (2,712).
    for label in [incompressible(3300), incompressible(101)] {
        let labels = json!(["fine", label]);
        one.assert_refused_on_create_and_edit("labels", &labels, "invalid_labels")
            .await;
    }
    one.assert_nothing_written().await;

    // 100 characters of four bytes each are a label like any other.
    let (app, alice) = (&one.app, &one.alice);
    let widest = "🦀".repeat(100);
    let created = app
        .create_task(
            &one.base,
            json!({ "title": "t", "labels": [widest] }),
            alice,
        )
        .await;
    assert_eq!(created["labels"], json!([widest]));
    let edited = app
        .patch_as(
            &one.task_path,
            json!({ "version": 1, "labels": [widest] }),
            alice,
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.body);
}

/// `words` distinct words of 16 letters, each letter 2 bytes that lower-case to 3 (`Ⱥ` to
/// `ⱥ`, `Ⱦ` to `ⱦ`): the lexemes of the search index come out half as large again as the text.
fn words_that_grow_when_indexed(words: u32) -> String {
    (0..words)
        .map(|n| {
            (0..16)
                .map(|bit| if n >> bit & 1 == 1 { 'Ⱦ' } else { 'Ⱥ' })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn descriptions_over_100_000_characters_are_refused_and_nothing_is_written(pool: PgPool) {
    let one = OneTask::new(pool, "Descriptions").await;

    // 792 kB of text, within the body limit, is 1.2 MB of lexemes: over the 1 MB a
    // tsvector holds, so the generated search_vector column failed the write.
    let swollen = words_that_grow_when_indexed(24_000);
    for description in [swollen, "a".repeat(100_001)] {
        one.assert_refused_on_create_and_edit(
            "description",
            &json!(description),
            "invalid_description",
        )
        .await;
    }
    one.assert_nothing_written().await;

    // The longest description that grows the most is still searchable.
    let longest: String = words_that_grow_when_indexed(6_000)
        .chars()
        .take(100_000)
        .collect();
    let created = one
        .app
        .create_task(
            &one.base,
            json!({ "title": "t", "description": longest }),
            &one.alice,
        )
        .await;
    assert_eq!(
        created["description"].as_str().map(|d| d.chars().count()),
        Some(100_000)
    );
}

/// `chars` characters of 4 bytes each, from a range wide enough not to compress.
fn four_byte_path(chars: usize) -> String {
    pseudo_random()
        .take(chars)
        .map(|n| char::from_u32(0x20000 + (n % 0xA000) as u32).expect("a CJK character"))
        .collect()
}

fn percent_encoded(path: &str) -> String {
    path.bytes().map(|byte| format!("%{byte:02X}")).collect()
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn file_paths_over_2048_bytes_are_refused_not_answered_as_a_conflict(pool: PgPool) {
    let app = TestApp::new(pool).await;
    let alice = app.user("alice").await;
    let project = app.project_id("Files", &alice).await;

    // 1,024 characters of 4 bytes: within the character limit, over what one entry of the
    // unique indexes on (project_id, path) holds (2,704 bytes), which PostgreSQL reports
    // under the index's name, so it was read as a lost race (409 upload_conflict: "retry").
    let long = percent_encoded(&four_byte_path(1024));
    let refused = app.upload(&project, &long, "text/plain", "x", &alice).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_file_path"),
        "{}",
        refused.body
    );
    assert_eq!(count(&app, "project_files").await, 0);

    let widest = percent_encoded(&four_byte_path(512));
    let stored = app
        .upload(&project, &widest, "text/plain", "x", &alice)
        .await;
    assert_eq!(stored.status, StatusCode::CREATED, "{}", stored.body);
}

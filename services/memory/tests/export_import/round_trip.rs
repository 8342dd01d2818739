//! An export imported into a fresh database: the same records come out again, searchable, and
//! importing them twice changes nothing.

use authn::Role;
use axum::http::StatusCode;
use serde_json::json;
use sqlx::{PgPool, postgres::PgPoolOptions};
use uuid::Uuid;

use crate::{
    common::{TestApp, hit_documents},
    support::{LONG, export, import, project, records},
};

/// Another database on the same server, migrated, dropped by [`Fresh::drop`].
struct Fresh {
    pool: PgPool,
    name: String,
    admin: PgPool,
}

impl Fresh {
    async fn create(admin: &PgPool) -> Self {
        let name = format!("memory_import_{}", Uuid::new_v4().simple());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(admin)
            .await
            .expect("create database");
        let options = admin.connect_options().as_ref().clone().database(&name);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .expect("connect");
        db::MIGRATOR.run(&pool).await.expect("migrate");
        Self {
            pool,
            name,
            admin: admin.clone(),
        }
    }

    async fn drop(self) {
        self.pool.close().await;
        sqlx::raw_sql(&format!("DROP DATABASE {} WITH (FORCE)", self.name))
            .execute(&self.admin)
            .await
            .expect("drop database");
    }
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn export_then_import_into_a_fresh_database_round_trips(pool: PgPool) {
    let source = TestApp::new(pool.clone()).await;
    let alice = source.user(Role::User).await;
    let project_id = Uuid::now_v7();
    project(&source.pool, project_id, &alice).await;
    for body in [
        json!({"source": "notes", "external_id": "own", "title": "Ownership", "tags": ["rust"],
               "metadata": {"lang": "en", "n": 1.5}, "content": LONG, "project_id": project_id}),
        json!({"source": "web", "path": "guide/borrowing.md", "type": "guide",
               "content": "# Borrowing\n\nA reference borrows a value without owning it."}),
        json!({"source": "notes", "content": "Lifetimes name how long a reference is valid."}),
    ] {
        let reply = source.ingest(&alice, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    }
    let exported = export(&source, &alice, "").await;
    let lines = records(&exported);
    assert_eq!(lines.len(), 3);

    let fresh = Fresh::create(&pool).await;
    {
        let target = TestApp::new(fresh.pool.clone()).await;
        let carol = target.user(Role::User).await;
        project(&target.pool, project_id, &carol).await;
        let body = String::from_utf8(exported.bytes.to_vec()).unwrap();
        let imported = import(&target, &carol, "", body.clone()).await;
        assert_eq!(imported.status, StatusCode::OK, "{}", imported.body);
        assert_eq!(
            imported.body,
            json!({"imported": 3, "unchanged": 0, "failed": 0, "projects_dropped": 0,
                   "errors": [], "notices": []})
        );
        // Pending until the indexer embeds them (woken by the import; run here by hand).
        assert_eq!(target.vectors().await, 0);
        let chunks: usize = lines
            .iter()
            .map(|l| l["chunks"].as_array().unwrap().len())
            .sum();
        let indexed = target.state.indexer.drain_pending(|_| {}).await.unwrap();
        assert_eq!(indexed, chunks);

        // The same records come out again: ids, fields, timestamps, chunk ids and texts.
        let again = records(&export(&target, &carol, "").await);
        assert_eq!(again, lines);
        let found = target
            .search(
                &carol,
                json!({"query": "how long a reference is valid", "limit": 1}),
            )
            .await;
        assert_eq!(found.status, StatusCode::OK, "{}", found.body);
        assert_eq!(
            hit_documents(&found.body),
            [lines[2]["id"].as_str().unwrap()]
        );

        let repeated = import(&target, &carol, "", body).await;
        assert_eq!(repeated.body["imported"], 0);
        assert_eq!(repeated.body["unchanged"], 3, "{}", repeated.body);
        assert_eq!(target.vectors().await, chunks as u64);
    }
    fresh.drop().await;
}

//! `migrator legacy import-users` as an operator runs it, against a `public.users` table built
//! exactly as the old Node auth service created it.

mod support;

use sqlx::PgPool;
use support::{
    Legacy, account_count, add_legacy, create_legacy_table, import, imported, legacy_hash, map,
    user,
};

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn import_copies_every_row_with_its_hash_and_created_at_and_derives_what_is_missing(
    pool: PgPool,
) {
    create_legacy_table(&pool).await;
    let ids = add_legacy(
        &pool,
        &[
            Legacy {
                email: "Ann.Lee@Example.com",
                username: Some("ann"),
                full_name: Some("Ann Lee"),
                password: "ann's old password",
                role: Some("admin"),
                created_at: Some("2019-01-02 03:04:05"),
                ..Legacy::default()
            },
            Legacy {
                email: "bob@example.com",
                first_name: Some("Bob"),
                full_name: None,
                role: Some("super_admin"),
                ..Legacy::default()
            },
            Legacy {
                email: "carol@example.com",
                username: Some("carol jones"),
                first_name: Some("Carol"),
                last_name: Some("Jones"),
                full_name: None,
                ..Legacy::default()
            },
            Legacy {
                email: "d@example.com",
                username: Some(""),
                full_name: None,
                role: Some("moderator"),
                created_at: None,
                ..Legacy::default()
            },
            Legacy {
                email: "erin@example.com",
                username: Some(&"e".repeat(60)),
                role: None,
                ..Legacy::default()
            },
        ],
    )
    .await;

    let out = import(&pool, &[]).await;
    assert_eq!(
        out.ok(),
        format!(
            "legacy import-users: 5 rows in public.users
legacy id {b}: no username: imported as \"bob\" (from the email)
legacy id {c}: username \"carol jones\" breaks the rules (3-50 letters, digits, '_', '.', '-'): imported as \"carol_jones\"
legacy id {d}: no username: imported as \"d_{d}\" (from the email)
legacy id {d}: no name: full_name set to the username \"d_{d}\"
legacy id {d}: role \"moderator\" is not user, admin or super_admin: imported as user
legacy id {d}: no created_at: set to the time of the import
legacy id {e}: username \"{long}\" breaks the rules (3-50 letters, digits, '_', '.', '-'): imported as \"{cut}\"
legacy id {e}: role NULL is not user, admin or super_admin: imported as user
imported:           5
already imported:   0
skipped:            0
roles remapped:     2
usernames changed:  4
full names derived: 3 (2 from first/last name, 1 from the username)
non-bcrypt hashes:  0
",
            b = ids[1],
            c = ids[2],
            d = ids[3],
            e = ids[4],
            long = "e".repeat(60),
            cut = "e".repeat(50),
        )
    );

    let accounts = imported(&pool).await;
    let summary: Vec<_> = accounts
        .iter()
        .map(|a| {
            (
                a.legacy_id,
                &*a.email,
                &*a.username,
                &*a.full_name,
                &*a.role,
            )
        })
        .collect();
    let d_name = format!("d_{}", ids[3]);
    let e_name = "e".repeat(50);
    assert_eq!(
        summary,
        [
            (ids[0], "ann.lee@example.com", "ann", "Ann Lee", "admin"),
            (ids[1], "bob@example.com", "bob", "Bob", "super_admin"),
            (
                ids[2],
                "carol@example.com",
                "carol_jones",
                "Carol Jones",
                "user"
            ),
            (ids[3], "d@example.com", &*d_name, &*d_name, "user"),
            (ids[4], "erin@example.com", &*e_name, "Some One", "user"),
        ]
    );
    assert_eq!(accounts[0].created_at, "2019-01-02T03:04:05+00:00");
    assert_eq!(accounts[1].created_at, "2020-05-06T07:08:09+00:00");
    for (account, id) in accounts.iter().zip(&ids) {
        assert_eq!(account.password_hash, legacy_hash(&pool, *id).await, "kept");
    }
    // Auth verifies bcrypt hashes at login and upgrades them (services/auth password.rs).
    assert!(bcrypt::verify("ann's old password", &accounts[0].password_hash).expect("bcrypt"));
    assert!(!bcrypt::verify("wrong password", &accounts[0].password_hash).expect("bcrypt"));
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn case_insensitive_duplicates_are_reported_and_skipped_and_accounts_never_overwritten(
    pool: PgPool,
) {
    let frank = db::auth::users::insert(
        &pool,
        &db::auth::users::NewUser {
            email: "frank@example.com",
            username: "frank",
            full_name: "Frank Existing",
            password_hash: "$argon2id$existing",
        },
    )
    .await
    .expect("existing account");
    create_legacy_table(&pool).await;
    let ids = add_legacy(
        &pool,
        &[
            user("FRANK@example.com", "frank_legacy"),
            user("gina@example.com", "Frank"),
            user("Gina@Example.com", "gina2"),
        ],
    )
    .await;

    let out = import(&pool, &[]).await;
    let (f, g, g2) = (ids[0], ids[1], ids[2]);
    let lines: Vec<_> = out.ok().lines().collect();
    assert_eq!(
        lines[1..5],
        [
            format!(
                "legacy id {f}: skipped: email \"FRANK@example.com\" already belongs to account {}, which was left untouched",
                frank.id
            ),
            format!("legacy id {g}: \"Frank\" is taken (ignoring case): imported as \"Frank_{g}\""),
            format!(
                "legacy id {g2}: skipped: email \"Gina@Example.com\" duplicates legacy id {g} (emails are unique ignoring case)"
            ),
            "imported:           1".to_owned(),
        ]
    );
    assert!(out.stdout.contains("\nskipped:            2\n"), "{out:#?}");

    let after = db::auth::users::find(&pool, frank.id)
        .await
        .expect("find")
        .expect("still there");
    assert_eq!(
        (&*after.password_hash, &*after.full_name, after.updated_at),
        ("$argon2id$existing", "Frank Existing", frank.updated_at)
    );
    let accounts = imported(&pool).await;
    assert_eq!(accounts.len(), 1);
    assert_eq!(
        (accounts[0].legacy_id, &*accounts[0].email),
        (g, "gina@example.com")
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_rerun_imports_nothing_twice_and_reports_rows_already_imported(pool: PgPool) {
    create_legacy_table(&pool).await;
    let first = [
        user("a@example.com", "anna"),
        Legacy {
            email: "b@example.com",
            username: Some("berta"),
            role: Some("guest"),
            ..Legacy::default()
        },
    ];
    add_legacy(&pool, &first).await;
    assert!(
        import(&pool, &[])
            .await
            .ok()
            .contains("\nimported:           2\n")
    );
    let map_before = map(&pool).await;

    let again = import(&pool, &[]).await;
    assert_eq!(
        again.ok(),
        "legacy import-users: 2 rows in public.users
imported:           0
already imported:   2
skipped:            0
roles remapped:     0
usernames changed:  0
full names derived: 0 (0 from first/last name, 0 from the username)
non-bcrypt hashes:  0
"
    );
    let map_after = map(&pool).await;
    assert_eq!(map_after, map_before, "earlier imports untouched");

    // Rows added to the legacy table later come over on the next run.
    let late = add_legacy(&pool, &[user("c@example.com", "cara")]).await;
    let third = import(&pool, &[]).await;
    assert!(
        third
            .ok()
            .contains("\nimported:           1\nalready imported:   2\n"),
        "{third:#?}"
    );
    assert_eq!(
        imported(&pool).await.last().expect("one").legacy_id,
        late[0]
    );
    assert_eq!(account_count(&pool).await, 3);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn dry_run_prints_the_same_report_and_changes_nothing(pool: PgPool) {
    create_legacy_table(&pool).await;
    add_legacy(
        &pool,
        &[
            user("a@example.com", "a b"),
            Legacy {
                email: "A@example.com",
                ..Legacy::default()
            },
        ],
    )
    .await;

    let dry = import(&pool, &["--dry-run"]).await;
    let dry_out = dry.ok();
    assert!(
        dry_out.starts_with("legacy import-users (dry run): 2 rows"),
        "{dry_out}"
    );
    assert!(dry_out.contains("\nwould import:       1\n"), "{dry_out}");
    assert!(
        dry_out.ends_with("\ndry run: nothing was changed (the transaction was rolled back)\n")
    );
    assert_eq!(account_count(&pool).await, 0);
    assert_eq!(imported(&pool).await, []);

    let real = import(&pool, &[]).await;
    let expected = dry_out
        .replacen(" (dry run)", "", 1)
        .replacen("would import:       ", "imported:           ", 1)
        .replacen(
            "dry run: nothing was changed (the transaction was rolled back)\n",
            "",
            1,
        );
    assert_eq!(real.ok(), expected);
    assert_eq!(account_count(&pool).await, 1);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_failure_part_way_rolls_back_every_row(pool: PgPool) {
    create_legacy_table(&pool).await;
    let ids = add_legacy(
        &pool,
        &[
            user("a@example.com", "anna"),
            user("boom@example.com", "boom"),
            user("c@example.com", "cara"),
        ],
    )
    .await;
    // The second insert fails, as a crash or a constraint we did not foresee would.
    sqlx::raw_sql(
        "CREATE FUNCTION public.boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'boom'; END $$;
         CREATE TRIGGER boom BEFORE INSERT ON auth.users FOR EACH ROW
             WHEN (NEW.email = 'boom@example.com') EXECUTE FUNCTION public.boom();",
    )
    .execute(&pool)
    .await
    .expect("failing trigger");

    let out = import(&pool, &[]).await;
    let message = out.error();
    assert!(
        message.starts_with(&format!("legacy id {}: cannot import: ", ids[1])),
        "{message}"
    );
    assert!(message.ends_with("boom; nothing was imported"), "{message}");
    assert_eq!(out.stdout, "", "no report for a rolled-back import");
    assert_eq!(
        account_count(&pool).await,
        0,
        "the first row was rolled back too"
    );
    assert_eq!(imported(&pool).await, []);
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn a_missing_legacy_table_or_an_old_schema_fails_with_one_line(pool: PgPool) {
    let out = import(&pool, &[]).await;
    assert_eq!(
        out.error(),
        "no legacy table: public.users does not exist in this database; restore the old auth service's users table into it first"
    );
    assert_eq!(out.stdout, "");

    create_legacy_table(&pool).await;
    sqlx::query!(
        "DELETE FROM _sqlx_migrations WHERE version = (SELECT max(version) FROM _sqlx_migrations)"
    )
    .execute(&pool)
    .await
    .expect("pretend the newest migration is pending");
    let out = import(&pool, &[]).await;
    let newest = db::expected_version();
    assert_eq!(
        out.error(),
        format!(
            "schema is at version {}, this build needs {newest}: run the migrator",
            newest - 1
        )
    );
}

#[sqlx::test(migrator = "db::MIGRATOR")]
async fn time_zone_says_how_to_read_the_zoneless_legacy_timestamps(pool: PgPool) {
    create_legacy_table(&pool).await;
    add_legacy(
        &pool,
        &[Legacy {
            created_at: Some("2019-07-01 12:00:00"),
            ..Legacy::default()
        }],
    )
    .await;

    let out = import(&pool, &["--time-zone", "Mars/Olympus_Mons"]).await;
    assert!(
        out.error().starts_with("cannot read public.users: "),
        "{out:#?}"
    );
    assert!(out.error().contains("Mars/Olympus_Mons"), "{out:#?}");

    import(&pool, &["--time-zone", "Europe/Berlin"]).await.ok();
    let accounts = imported(&pool).await;
    assert_eq!(
        accounts[0].created_at, "2019-07-01T10:00:00+00:00",
        "CEST is UTC+2"
    );
}

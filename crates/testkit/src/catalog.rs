//! A text snapshot of everything migrations can create, to prove a down undoes its up.

use sqlx::PgConnection;

/// One line per schema, relation, column, constraint, index, trigger, function, extension
/// and comment outside PostgreSQL's own schemas, sorted. sqlx's history table is left out:
/// it records the migrations rather than being made by them.
pub async fn snapshot(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar!(
        r#"
        WITH user_ns AS (
            SELECT oid, nspname FROM pg_namespace
            WHERE nspname NOT LIKE 'pg\_%' AND nspname <> 'information_schema'
        ),
        user_rel AS (
            SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_class c
            JOIN user_ns n ON n.oid = c.relnamespace
            WHERE c.relname NOT LIKE '\_sqlx\_migrations%'
        )
        SELECT line AS "line!" FROM (
            SELECT format('schema %s owner-comment=%s', nspname, obj_description(oid, 'pg_namespace')) AS line
            FROM user_ns
            UNION ALL
            SELECT format('relation %s.%s kind=%s comment=%s', nspname, relname, relkind,
                          obj_description(oid, 'pg_class'))
            FROM user_rel
            UNION ALL
            SELECT format('column %s.%s.%s %s notnull=%s default=%s', r.nspname, r.relname, a.attname,
                          format_type(a.atttypid, a.atttypmod), a.attnotnull,
                          pg_get_expr(d.adbin, d.adrelid))
            FROM pg_attribute a
            JOIN user_rel r ON r.oid = a.attrelid
            LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
            WHERE a.attnum > 0 AND NOT a.attisdropped
            UNION ALL
            SELECT format('constraint %s.%s %s', r.relname, con.conname, pg_get_constraintdef(con.oid))
            FROM pg_constraint con JOIN user_rel r ON r.oid = con.conrelid
            UNION ALL
            SELECT format('index %s', pg_get_indexdef(i.indexrelid))
            FROM pg_index i JOIN user_rel r ON r.oid = i.indrelid
            UNION ALL
            SELECT format('trigger %s', pg_get_triggerdef(t.oid))
            FROM pg_trigger t JOIN user_rel r ON r.oid = t.tgrelid
            WHERE NOT t.tgisinternal
            UNION ALL
            SELECT format('function %s.%s(%s) %s', n.nspname, p.proname,
                          pg_get_function_identity_arguments(p.oid), md5(p.prosrc))
            FROM pg_proc p JOIN user_ns n ON n.oid = p.pronamespace
            WHERE NOT EXISTS (SELECT 1 FROM pg_depend dep
                              WHERE dep.objid = p.oid AND dep.deptype = 'e')
            UNION ALL
            SELECT format('extension %s %s', extname, extversion) FROM pg_extension
            UNION ALL
            SELECT format('type %s.%s', n.nspname, t.typname)
            FROM pg_type t JOIN user_ns n ON n.oid = t.typnamespace
            WHERE t.typtype IN ('e', 'd', 'c')
              AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid)
              AND NOT EXISTS (SELECT 1 FROM pg_depend dep
                              WHERE dep.objid = t.oid AND dep.deptype = 'e')
        ) lines
        ORDER BY 1
        "#
    )
    .fetch_all(conn)
    .await
    .expect("catalog snapshot")
}

/// Tables, views and sequences in non-system schemas, sqlx's history table included.
pub async fn user_relations(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar!(
        r#"
        SELECT format('%s.%s', n.nspname, c.relname) AS "name!"
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
          AND c.relkind IN ('r', 'v', 'S', 'p', 'm')
        ORDER BY 1
        "#
    )
    .fetch_all(conn)
    .await
    .expect("list relations")
}

//! The same storage test suite against both backends (`storage_suite`): every behaviour runs
//! once on a local `PROJECTS_DIR` (`local::...`) and once on S3 (`s3::...`, against moto's
//! server, which must be installed: the S3 tests fail, never skip, without it). What only S3
//! has (settings and a bucket that can be wrong or unreachable) is in
//! `storage_suite::s3_settings`.

mod common;
mod storage_suite;

/// One `#[sqlx::test]` per behaviour, on `$backend`.
macro_rules! on_backend {
    ($backend:expr; $($module:ident::$behaviour:ident),* $(,)?) => {
        $(
            #[sqlx::test(migrator = "db::MIGRATOR")]
            async fn $behaviour(pool: sqlx::PgPool) {
                let app = crate::storage_suite::StorageApp::start(pool, $backend).await;
                crate::storage_suite::$module::$behaviour(&app).await;
            }
        )*
    };
}

macro_rules! suite {
    ($backend:expr) => {
        on_backend!($backend;
            transfer::raw_and_form_uploads_round_trip,
            transfer::ranges_and_revalidation_are_served_from_the_store,
            transfer::a_ten_mib_file_streams_in_and_out_in_bounded_chunks,
            transfer::uploads_over_ten_mib_are_refused_and_leave_nothing,
            transfer::an_upload_cut_off_mid_body_leaves_nothing,
            transfer::bytes_whose_row_is_refused_are_removed_before_the_answer,
            transfer::restore_shares_bytes_and_deletes_remove_only_unreferenced,
            cleanup::verify_files_reports_missing_corrupt_and_orphans_and_fix_removes_only_orphans,
            cleanup::two_sweeps_at_once_remove_only_orphans_older_than_the_grace,
            cleanup::the_service_sweeps_the_store_it_serves,
        );
    };
}

mod local {
    suite!(crate::storage_suite::Backend::Local);
}

mod s3 {
    suite!(crate::storage_suite::Backend::S3);
}

//! The project service's own Prometheus series. Requests and the database pool are
//! recorded for every service by `platform::metrics`. (`::metrics` below is the crate.)

/// Counter: bytes of uploads that were stored and committed (not those refused or rolled
/// back). Its rate is the write load on `PROJECTS_DIR`.
pub const FILE_BYTES_STORED: &str = "project_file_bytes_stored_total";
/// Counter: uploads refused for exceeding the 10 MiB limit, by their declared length or
/// while streaming.
pub const UPLOADS_TOO_LARGE: &str = "project_file_uploads_too_large_total";
/// Counter: uploads refused because their project's files would exceed
/// `PROJECT_STORAGE_QUOTA_BYTES`.
pub const UPLOADS_OVER_QUOTA: &str = "project_file_uploads_over_quota_total";

/// Gives the series their `# HELP` lines; needs the recorder, so installs it first.
pub fn describe() {
    platform::metrics::install();
    ::metrics::describe_counter!(
        FILE_BYTES_STORED,
        ::metrics::Unit::Bytes,
        "Bytes of uploaded files stored and committed"
    );
    ::metrics::describe_counter!(
        UPLOADS_TOO_LARGE,
        "Uploads refused for exceeding the file size limit"
    );
    ::metrics::describe_counter!(
        UPLOADS_OVER_QUOTA,
        "Uploads refused for exceeding the project's storage quota"
    );
}

pub fn file_stored(size_bytes: u64) {
    ::metrics::counter!(FILE_BYTES_STORED).increment(size_bytes);
}

pub fn upload_too_large() {
    ::metrics::counter!(UPLOADS_TOO_LARGE).increment(1);
}

pub fn upload_over_quota() {
    ::metrics::counter!(UPLOADS_OVER_QUOTA).increment(1);
}

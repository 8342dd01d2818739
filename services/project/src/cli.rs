//! The `project` binary's command line: serve (the default), `healthcheck [--live]` (both
//! as every service binary, through `platform::run_service`), or `verify-files`.

use std::{ffi::OsString, process::ExitCode, time::Duration};

use platform::service::StartError;

use crate::{
    cleanup::{
        ORPHAN_GRACE,
        verify::{self, Options},
    },
    config::ProjectConfig,
    storage::FileStore,
};

const VERIFY_FILES: &str = "verify-files";
const USAGE: &str = "usage: project verify-files [--fix] [--grace-secs SECONDS]";

/// Problems found (`diff` and `grep` use 1 the same way).
const FOUND_PROBLEMS: u8 = 1;
/// Could not check: bad usage, or the database or the file store unusable.
const CANNOT_CHECK: u8 = 2;

pub async fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    if args.next().is_some_and(|first| first == VERIFY_FILES) {
        return verify_files(args.collect()).await;
    }
    platform::run_service(crate::SPEC, crate::build).await
}

/// `verify-files`: exit 0 when rows and files agree, 1 when a problem was found (fixed or
/// not), 2 when it could not check.
async fn verify_files(args: Vec<OsString>) -> ExitCode {
    let options = match parse(&args) {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{USAGE}");
            println!("Checks every file row against its bytes and every file against the rows.");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("project {VERIFY_FILES}: {message}; {USAGE}");
            return ExitCode::from(CANNOT_CHECK);
        }
    };
    match run(options).await {
        Ok(summary) => {
            println!(
                "checked {} rows, {} files: {} problems",
                summary.rows, summary.files, summary.problems
            );
            if summary.problems == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(FOUND_PROBLEMS)
            }
        }
        Err(error) => {
            eprintln!("project {VERIFY_FILES}: error: {error}");
            ExitCode::from(CANNOT_CHECK)
        }
    }
}

/// The options, or `None` for `--help`.
fn parse(args: &[OsString]) -> Result<Option<Options>, String> {
    let mut options = Options {
        fix: false,
        grace: ORPHAN_GRACE,
    };
    let mut args = args.iter().map(|arg| arg.to_string_lossy());
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.into_owned(), None),
        };
        match (flag.as_str(), inline) {
            ("--fix", None) => options.fix = true,
            ("-h" | "--help", None) => return Ok(None),
            ("--grace-secs", value) => {
                let value = value
                    .or_else(|| args.next().map(|next| next.into_owned()))
                    .ok_or("--grace-secs needs a number of seconds")?;
                let seconds: u64 = value
                    .parse()
                    .map_err(|_| format!("--grace-secs takes whole seconds, not `{value}`"))?;
                options.grace = Duration::from_secs(seconds);
            }
            _ => return Err(format!("unexpected argument `{flag}`")),
        }
    }
    Ok(Some(options))
}

async fn run(options: Options) -> Result<verify::Summary, StartError> {
    platform::config::load_dotenv();
    let database: db::DbConfig = platform::config::from_env().map_err(StartError::new)?;
    let config: ProjectConfig = platform::config::from_env().map_err(StartError::new)?;
    // A wrong PROJECTS_DIR (or an unreachable bucket) would make every row look `missing`:
    // refuse it instead. Never created here.
    let location = config.storage().map_err(StartError::new)?;
    let store = FileStore::connect(&location, false)
        .await
        .map_err(StartError::new)?;
    let pool = db::schema::open_verified(&database)
        .await
        .map_err(StartError::new)?;
    let summary = verify::run(&pool, &store, options)
        .await
        .map_err(StartError::new);
    pool.close().await;
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(args: &[&str]) -> Result<Option<Options>, String> {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse(&args)
    }

    #[test]
    fn options_are_read_in_either_form() {
        let options = parsed(&["--fix", "--grace-secs", "0"])
            .expect("valid")
            .expect("run");
        assert!(options.fix);
        assert_eq!(options.grace, Duration::ZERO);
        let options = parsed(&["--grace-secs=90"]).expect("valid").expect("run");
        assert!(!options.fix);
        assert_eq!(options.grace, Duration::from_secs(90));
        let options = parsed(&[]).expect("valid").expect("run");
        assert_eq!(options.grace, ORPHAN_GRACE);
        assert!(parsed(&["--help"]).expect("valid").is_none());
    }

    #[test]
    fn bad_usage_is_named() {
        for (args, expected) in [
            (&["--fxi"][..], "unexpected argument `--fxi`"),
            (&["--fix=yes"], "unexpected argument `--fix`"),
            (&["--grace-secs"], "--grace-secs needs a number of seconds"),
            (
                &["--grace-secs", "-1"],
                "--grace-secs takes whole seconds, not `-1`",
            ),
        ] {
            assert_eq!(parsed(args).expect_err("refused"), expected, "{args:?}");
        }
    }
}

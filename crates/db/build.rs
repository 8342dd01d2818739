// Rebuild when a migration is added or edited: `sqlx::migrate!` embeds the folder's files.
fn main() {
    println!("cargo:rerun-if-changed=../../database/migrations");
}

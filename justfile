# DevMentor: the project's menu. `just` lists the recipes.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Run the stack locally: PostgreSQL, Redis, migrations, auth/project/memory (--seed loads dev data).
dev *ARGS:
    scripts/dev {{ARGS}}

# Run every test against real PostgreSQL and Redis (extra arguments go to cargo test).
test *ARGS:
    scripts/test {{ARGS}}

# Formatting, clippy with warnings as errors, and the compose file.
lint:
    cargo fmt --all --check
    SQLX_OFFLINE=true cargo clippy --workspace --all-targets --locked -- -D warnings
    docker-compose config -q

# Format the code.
fmt:
    cargo fmt --all

# The migrator: `just migrate up`, `just migrate down --to 2`, `just migrate status`, ...
migrate *ARGS:
    SQLX_OFFLINE=true cargo run -q --locked -p migrator -- {{ARGS}}

# Refresh the committed .sqlx query data (needs DATABASE_URL at a migrated database).
prepare:
    cargo sqlx prepare --workspace -- --all-targets

# Benchmarks in release mode, each printed beside a floor measured in the same run.
# `just bench auth` (100 concurrent logins vs raw argon2id rate); extra args go to the bench.
bench WHAT="auth" *ARGS:
    SQLX_OFFLINE=true cargo run --release --locked -p {{WHAT}} --bin bench -- {{ARGS}}

# What CI runs, from this checkout.
ci:
    CI=true .ci/run

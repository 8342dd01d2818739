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

# What CI runs, from this checkout.
ci:
    CI=true .ci/run

# Benchmark figures (release build, nothing asserted): vector index at 100k points, then embedder.
bench:
    cargo run --release -q -p bench -- vector
    cargo run --release -q -p bench -- embed

# One benchmark with options, e.g. `just bench-run vector --points 20000 --backend embedded`.
bench-run *ARGS:
    cargo run --release -q -p bench -- {{ARGS}}

# Qdrant's gRPC API over the embedded engine on :6334 (a dev/test helper, not Qdrant).
qdrant-edge-server *ARGS:
    cargo run -q -p qdrant-edge-server -- {{ARGS}}

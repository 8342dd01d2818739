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

# Formatting, clippy with warnings as errors, and the deploy files (compose, Dockerfile, k8s).
lint:
    cargo fmt --all --check
    SQLX_OFFLINE=true cargo clippy --workspace --all-targets --locked -- -D warnings
    scripts/check-deploy

# Format the code.
fmt:
    cargo fmt --all

# The migrator: `just migrate up`, `just migrate down --to 2`, `just migrate status`, ...
migrate *ARGS:
    SQLX_OFFLINE=true cargo run -q --locked -p migrator -- {{ARGS}}

# Regenerate database/schema.sql (the current schema, one file) after adding a migration.
schema:
    scripts/schema

# Regenerate docs/db/ERD.md (the schema's diagrams, from the migrated catalog) after adding a migration.
erd:
    scripts/erd

# Refresh the committed .sqlx query data (needs DATABASE_URL at a migrated database).
prepare:
    cargo sqlx prepare --workspace -- --all-targets

# Rebuild the memory service's vector collection from PostgreSQL with the configured embedder
# (after changing EMBEDDING_MODEL/EMBEDDING_DIM). Stop the memory service first when the index is embedded.
reindex:
    SQLX_OFFLINE=true cargo run -q --locked -p memory -- reindex

# Fuzz the HTTP API with schemathesis (every check, fixed seed) over a fresh database;
# CI runs 25 examples per operation, this 200 (`just fuzz 1000` for more).
fuzz EXAMPLES="200":
    scripts/fuzz {{EXAMPLES}}

# What CI runs, from this checkout.
ci:
    CI=true .ci/run

# Benchmarks in release mode, each printed beside a floor measured in the same run:
# `just bench` runs all and rewrites docs/performance.md from their figures;
# `just bench auth|project|memory|vector|embed [ARGS]` runs one, replaces its figures and
# rewrites the page with the others' kept from their last run
# (e.g. `just bench vector --points 20000 --backend embedded`, `just bench memory --documents 2000`).
bench WHAT="all" *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    export SQLX_OFFLINE=true
    cargo build --release -q --locked -p bench
    bench="${CARGO_TARGET_DIR:-target}/release/bench"
    figures="${CARGO_TARGET_DIR:-target}/bench-figures"
    if [ "{{WHAT}}" = all ]; then
      rm -rf "$figures" && mkdir -p "$figures"
      for what in auth project memory vector embed; do
        "$bench" "$what" --json "$figures/$what.json"
      done
    else
      mkdir -p "$figures"
      "$bench" {{WHAT}} {{ARGS}} --json "$figures/{{WHAT}}.json"
    fi
    "$bench" report --out docs/performance.md $(ls "$figures"/*.json | sort)

# Qdrant's gRPC API over the embedded engine on :6334 (a dev/test helper, not Qdrant).
qdrant-edge-server *ARGS:
    cargo run -q -p qdrant-edge-server -- {{ARGS}}

# The scrim platform's everyday commands. `just` alone lists them.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list --unsorted

# Run the whole stack locally (PostgreSQL + the four services) until Ctrl-C. No Docker needed.
up:
    scripts/up.sh

# Stop the local development cluster that `just up` started (its data is kept).
down:
    scripts/pg.sh stop-local

# Run every test of the workspace against a real PostgreSQL (started for the run if none answers),
# with schemathesis for the API contract tests (installed into .local/schemathesis when missing).
test *ARGS:
    scripts/pg.sh test scripts/with-schemathesis.sh cargo test --workspace {{ARGS}}

# Format the code.
fmt:
    cargo fmt --all

# Exactly what CI checks: formatting, then clippy with warnings as errors.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Provision the roles and apply the migrations (same database choice as `just up`), then exit.
migrate:
    scripts/up.sh --migrate-only

# Build the images and run the stack with Docker Compose (needs a Docker engine).
compose-up:
    docker compose up --build

# Stop the Docker Compose stack.
compose-down:
    docker compose down

# Run a benchmark: `just bench queue` or `just bench matchmaking` (add --quick for a smoke run).
bench *ARGS:
    scripts/pg.sh test cargo run --release -p bench -- {{ARGS}}

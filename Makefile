.PHONY: setup start test lint fmt typecheck
setup:
	./scripts/setup
start:
	./scripts/start
test:
	./scripts/test
lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
fmt:
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .
typecheck:
	.venv/bin/mypy

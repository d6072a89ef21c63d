# Build, test and run apiwatch. `make help` lists the targets.

GO          ?= go
BIN_DIR     ?= bin
DOCKER      ?= docker
DOCKER_IMAGE ?= apiwatch
BENCH_FLAGS ?=

VERSION_PKG := github.com/prometheus/common/version
VERSION     := $(shell cat VERSION)
REVISION    ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH      ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER  ?= $(shell id -un 2>/dev/null)@$(shell hostname 2>/dev/null)
# The date format is the one promu, the Prometheus build tool, writes.
BUILD_DATE  ?= $(shell date -u +%Y%m%d-%H:%M:%S)

LDFLAGS := -s -w \
	-X $(VERSION_PKG).Version=$(VERSION) \
	-X $(VERSION_PKG).Revision=$(REVISION) \
	-X $(VERSION_PKG).Branch=$(BRANCH) \
	-X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
	-X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

# Debian packages whose binaries the tests run: promtool checks /metrics,
# Alertmanager receives alerts in the alerting tests, and headless Chromium
# renders the status page in the browser tests of web/.
TEST_PACKAGES := prometheus prometheus-alertmanager chromium
# Where the chromium package installs the browser, which the browser tests
# start.
CHROMIUM := /usr/bin/chromium

# mailpit, the SMTP sink of the alerting tests, at the version tools/go.mod
# pins. The tests read its path from APIWATCH_MAILPIT.
MAILPIT := $(abspath $(BIN_DIR))/mailpit

.PHONY: all help build demo-api mailpit alertmanager-config test test-deps run bench lint docker clean

all: build

help:
	@echo 'Targets:'
	@echo '  build      static binary $(BIN_DIR)/apiwatch with version information'
	@echo '  test       test-deps, go vet, go test -race over every package, and a'
	@echo '             short benchmark run (go run ./bench -quick) that proves the harness works'
	@echo '  test-deps  install the Debian packages the tests run, when root, and build mailpit'
	@echo '  mailpit    build the SMTP sink $(BIN_DIR)/mailpit from tools/go.mod'
	@echo '  alertmanager-config'
	@echo '             render examples/alertmanager.yml from examples/apiwatch.yml'
	@echo '  run        run apiwatch on examples/apiwatch.yml against the demo API'
	@echo '  bench      go run ./bench $$(BENCH_FLAGS)'
	@echo '  lint       staticcheck from the tools module (tools/go.mod)'
	@echo '  docker     build the container image $(DOCKER_IMAGE):$(VERSION)'
	@echo '  clean      remove built binaries and the data directory of make run'

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN_DIR)/apiwatch ./cmd/apiwatch

demo-api:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN_DIR)/demo-api ./examples/demo-api

# mailpit is phony so that go build, which skips an up-to-date binary, also
# picks up a new version in tools/go.mod.
mailpit:
	cd tools && $(GO) build -o $(MAILPIT) github.com/axllent/mailpit

# The rendered file goes through a temporary file, so that a failed render
# leaves the example as it was. A test fails when the example is stale.
alertmanager-config: build
	$(BIN_DIR)/apiwatch alertmanager-config --config.file=examples/apiwatch.yml \
		> examples/alertmanager.yml.tmp || { rm -f examples/alertmanager.yml.tmp; exit 1; }
	mv examples/alertmanager.yml.tmp examples/alertmanager.yml

test: test-deps
	$(GO) vet ./...
	APIWATCH_MAILPIT=$(MAILPIT) $(GO) test -race ./...
	$(GO) run ./bench -quick

test-deps: mailpit
	@missing=''; \
	command -v promtool >/dev/null 2>&1 || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null 2>&1 || missing="$$missing prometheus-alertmanager"; \
	test -x $(CHROMIUM) || missing="$$missing chromium"; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing Debian packages for the tests:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y --no-install-recommends $$missing || \
			{ apt-get update && apt-get install -y --no-install-recommends $$missing; }; \
	else \
		echo "Some tests need Debian packages that are missing:$$missing"; \
		echo "Install them with: sudo apt-get install --no-install-recommends$$missing"; \
		echo "Without them those tests fail; APIWATCH_SKIP_PROMTOOL=1 skips the promtool checks"; \
		echo "and APIWATCH_SKIP_BROWSER=1 the browser test."; \
	fi

# run starts the demo API in the background and apiwatch in the foreground.
# The trap stops the demo API when apiwatch exits for any reason, including
# Ctrl-C, which the terminal sends to apiwatch and to this shell.
run: build demo-api
	@$(BIN_DIR)/demo-api -listen=127.0.0.1:9851 & demo=$$!; \
	trap 'kill $$demo 2>/dev/null; wait $$demo 2>/dev/null' EXIT; \
	trap 'exit 0' INT TERM; \
	$(BIN_DIR)/apiwatch --config.file=examples/apiwatch.yml \
		--web.listen-address=127.0.0.1:9850 --storage.path=data

bench:
	$(GO) run ./bench $(BENCH_FLAGS)

lint:
	$(GO) tool -modfile=tools/go.mod staticcheck ./...

# docker needs a running Docker engine. The build stamps the same version
# information as `make build`, passed in because .git is not sent to the
# engine.
docker:
	$(DOCKER) build \
		--build-arg REVISION=$(REVISION) \
		--build-arg BRANCH=$(BRANCH) \
		-t $(DOCKER_IMAGE):$(VERSION) .

clean:
	rm -rf $(BIN_DIR) data

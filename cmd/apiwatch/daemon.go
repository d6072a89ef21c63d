package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/common/version"
	toolkitweb "github.com/prometheus/exporter-toolkit/web"

	"github.com/apiwatch/apiwatch/alerting"
	"github.com/apiwatch/apiwatch/collector"
	"github.com/apiwatch/apiwatch/config"
	"github.com/apiwatch/apiwatch/storage"
	"github.com/apiwatch/apiwatch/web"
)

type daemonFlags struct {
	configFile  string
	storagePath string
	externalURL string
	concurrency int
	historySize int
	// enableLifecycle turns on POST /-/reload, and enableAdminAPI the
	// company API that writes files under conf.d.
	enableLifecycle bool
	enableAdminAPI  bool
	// durationHistogram and phaseDurations keep the two largest groups of
	// per-endpoint series.
	durationHistogram bool
	phaseDurations    bool
	web               *toolkitweb.FlagConfig
	log               *promslog.Config
}

func runDaemon(f *daemonFlags) int {
	logger := promslog.New(f.log)
	if err := daemon(f, logger); err != nil {
		logger.Error("apiwatch stopped with an error", "err", err)
		return 1
	}
	return 0
}

func daemon(f *daemonFlags, logger *slog.Logger) error {
	// Catch signals first, so that a SIGTERM during start-up still shuts
	// down through the same path instead of killing the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// SIGHUP reloads; caught from the start, it waits until the reloader
	// runs instead of killing the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	// The cache lets a reload parse only the companies whose text changed.
	loadCache := config.NewLoadCache()
	cfg, err := config.Load(f.configFile, config.LoadOptions{Cache: loadCache})
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				logger.Error("Invalid configuration", "err", e)
			}
			return fmt.Errorf("loading %s: %d problems", f.configFile, len(errs))
		}
		return err
	}
	externalURL, err := computeExternalURL(f.externalURL, (*f.web.WebListenAddresses)[0])
	if err != nil {
		return err
	}

	db, err := storage.Open(f.storagePath)
	if err != nil {
		return err
	}
	defer db.Close()

	reg := prometheus.NewRegistry()
	reg.MustRegister(
		versioncollector.NewCollector("apiwatch"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	userAgent := "apiwatch/" + version.Version
	httpProber := collector.NewHTTPProber(collector.HTTPProberOptions{UserAgent: userAgent})
	prober := collector.NewRetryingProber(collector.NewKindProber(
		httpProber,
		collector.NewTCPProber(collector.TCPProberOptions{}),
		collector.NewGRPCProber(collector.GRPCProberOptions{UserAgent: userAgent}),
	))

	// The manager reports transitions to the notifier, and the notifier reads
	// statuses from the manager; no transition happens before Run.
	var notifier *alerting.Notifier
	mgr, err := collector.New(collector.Options{
		Logger:       logger,
		Registerer:   reg,
		Prober:       prober,
		DB:           db,
		Concurrency:  f.concurrency,
		HistorySize:  f.historySize,
		OnTransition: func(tr collector.Transition) { notifier.HandleTransition(tr) },
		// /metrics streams the per-endpoint series, which the registry
		// would build as objects, 24 s for 100,000 endpoints.
		StreamEndpointMetrics: true,
	})
	if err != nil {
		return err
	}
	notifier, err = alerting.New(alerting.Options{
		Logger:      logger,
		Registerer:  reg,
		DB:          db,
		Statuses:    mgr,
		ExternalURL: externalURL,
	})
	if err != nil {
		return err
	}
	// apply makes a loaded configuration the running one. The notifier goes
	// first because it can fail (an Alertmanager's TLS files unreadable),
	// and a failed apply must leave the previous configuration in place.
	apply := func(cfg *config.Config) error {
		if err := notifier.ApplyConfig(cfg); err != nil {
			return err
		}
		// The HTTP prober drops the transports no endpoint uses any more and
		// rereads TLS files, before the endpoints' new settings apply.
		httpProber.ApplyConfig(cfg)
		ch := mgr.ApplyConfig(cfg)
		logger.Info("Endpoints applied", "added", ch.Added, "kept", ch.Kept, "removed", ch.Removed)
		return nil
	}
	// The reloader notes the files' state before the first apply, so that
	// a change made while apiwatch starts is reloaded once it watches.
	reloader, err := config.NewReloader(config.ReloaderOptions{
		File:        f.configFile,
		Apply:       apply,
		Logger:      logger,
		Registerer:  reg,
		LoadOptions: config.LoadOptions{Cache: loadCache},
	}, cfg)
	if err != nil {
		return err
	}
	if err := apply(cfg); err != nil {
		return err
	}
	// Probing starts at once, before the load cache and the HTTP server are
	// set up. The first slots are counted from the apply, and Run probes
	// every slot that passed before it started at once, in a burst.
	runDone := make(chan error, 1)
	go func() { runDone <- mgr.Run(ctx) }()
	loadCache.Update(cfg)
	logger.Info("Starting apiwatch", "version", version.Info(), "build_context", version.BuildContext(),
		"config_file", f.configFile, "companies", len(cfg.Companies), "endpoints", countEndpoints(cfg))

	handler := web.New(web.Options{
		Logger:          logger,
		Manager:         mgr,
		Gatherer:        reg,
		ExternalURL:     externalURL,
		Reloader:        reloader,
		EnableLifecycle: f.enableLifecycle,
		EnableAdminAPI:  f.enableAdminAPI,
		EndpointMetrics: func(w io.Writer) error {
			return mgr.WriteEndpointMetrics(w, collector.MetricsDetail{
				DurationHistogram: f.durationHistogram,
				PhaseDurations:    f.phaseDurations,
			})
		},
	})
	server := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- toolkitweb.ListenAndServe(server, f.web, logger) }()

	notifierDone := make(chan struct{})
	go func() {
		defer close(notifierDone)
		notifier.Run(ctx)
	}()
	go func() {
		if err := reloader.Run(ctx, hup); err != nil {
			logger.Error("Watching the configuration files stopped; SIGHUP and /-/reload still reload", "err", err)
		}
	}()

	select {
	case <-ctx.Done():
		logger.Info("Received shutdown signal, stopping")
	case err := <-serveErr:
		stop()
		<-runDone
		<-notifierDone
		return fmt.Errorf("serving HTTP: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := server.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP server did not shut down cleanly", "err", err)
	}
	err = <-runDone
	<-notifierDone
	if err != nil {
		return fmt.Errorf("saving state at shutdown: %w", err)
	}
	logger.Info("Stopped")
	return nil
}

func countEndpoints(cfg *config.Config) int {
	n := 0
	for _, c := range cfg.Companies {
		n += len(c.Endpoints)
	}
	return n
}

// computeExternalURL returns the URL users reach apiwatch at: the flag if
// set, else http://<hostname>:<port>/ of the first listen address.
func computeExternalURL(flagValue, listenAddress string) (*url.URL, error) {
	if flagValue == "" {
		host, err := os.Hostname()
		if err != nil {
			return nil, err
		}
		_, port, err := net.SplitHostPort(listenAddress)
		if err != nil {
			return nil, fmt.Errorf("parsing --web.listen-address %q: %w", listenAddress, err)
		}
		flagValue = "http://" + net.JoinHostPort(host, port) + "/"
	}
	u, err := url.Parse(flagValue)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("invalid --web.external-url %q: use an absolute URL such as https://apiwatch.example.com/",
			flagValue)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u, nil
}

package config

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
)

// DefaultReloadDebounce is how long the file watcher waits for a burst of
// file events (an editor's save, a Kubernetes ConfigMap update) to end
// before it reloads.
const DefaultReloadDebounce = 500 * time.Millisecond

// maxReloadDelay bounds how long a steady stream of file events can hold a
// reload back.
const maxReloadDelay = 5 * time.Second

// ReloaderOptions configures a Reloader.
type ReloaderOptions struct {
	// File is the main configuration file.
	File string
	// Apply makes cfg the running configuration. An error leaves the
	// previous configuration running and fails the reload.
	Apply      func(cfg *Config) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Debounce overrides DefaultReloadDebounce.
	Debounce time.Duration
	// LoadOptions are passed to Load on every reload.
	LoadOptions LoadOptions
}

// Reloader keeps the running configuration in step with its files. A
// reload loads and validates every file first; a configuration with any
// problem is rejected as a whole, its problems are logged with file, line
// and field, and the previous configuration keeps running. Reloads are
// serialized.
type Reloader struct {
	opts   ReloaderOptions
	logger *slog.Logger

	mu      sync.Mutex // held for the whole of a reload
	current *Config
	// adminMu serializes the company file operations, each of which checks
	// and writes a file, then reloads.
	adminMu sync.Mutex

	success     prometheus.Gauge
	successTime prometheus.Gauge
	reloads     *prometheus.CounterVec
}

// NewReloader returns a Reloader whose running configuration is initial,
// already applied by the caller.
func NewReloader(opts ReloaderOptions, initial *Config) (*Reloader, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultReloadDebounce
	}
	r := &Reloader{
		opts:    opts,
		logger:  opts.Logger,
		current: initial,
		success: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_config_last_reload_successful",
			Help: "Whether the last configuration reload attempt was successful.",
		}),
		successTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "apiwatch_config_last_reload_success_timestamp_seconds",
			Help: "Timestamp of the last successful configuration reload.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiwatch_config_reloads_total",
			Help: "Configuration reload attempts, by result.",
		}, []string{"result"}),
	}
	r.reloads.WithLabelValues("success")
	r.reloads.WithLabelValues("failure")
	r.success.Set(1)
	r.successTime.SetToCurrentTime()
	if opts.Registerer != nil {
		for _, c := range []prometheus.Collector{r.success, r.successTime, r.reloads} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// Current returns the running configuration.
func (r *Reloader) Current() *Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.current
}

// Reload loads the configuration files and applies them. It returns the
// problems found, as an Errors value, or the error of Apply.
func (r *Reloader) Reload() error {
	return r.reload(r.opts.LoadOptions)
}

// ReloadWith is Reload with other load options, such as an overlay of a
// file about to be written. Apply still sees the result.
func (r *Reloader) ReloadWith(opts LoadOptions) error {
	if opts.LookupEnv == nil {
		opts.LookupEnv = r.opts.LoadOptions.LookupEnv
	}
	return r.reload(opts)
}

// Check loads the configuration with opts and reports its problems without
// applying it.
func (r *Reloader) Check(opts LoadOptions) error {
	if opts.LookupEnv == nil {
		opts.LookupEnv = r.opts.LoadOptions.LookupEnv
	}
	_, err := Load(r.opts.File, opts)
	return err
}

func (r *Reloader) reload(opts LoadOptions) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	cfg, err := Load(r.opts.File, opts)
	if err == nil {
		err = r.opts.Apply(cfg)
	}
	if err != nil {
		r.success.Set(0)
		r.reloads.WithLabelValues("failure").Inc()
		var errs Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				r.logger.Error("Invalid configuration, keeping the previous one", "err", e)
			}
		} else {
			r.logger.Error("Reloading the configuration failed, keeping the previous one", "err", err)
		}
		return err
	}
	r.current = cfg
	r.success.Set(1)
	r.successTime.SetToCurrentTime()
	r.reloads.WithLabelValues("success").Inc()
	r.logger.Info("Configuration reloaded", "file", r.opts.File, "files", len(cfg.Files),
		"companies", len(cfg.Companies), "duration", time.Since(start))
	return nil
}

// Run reloads on SIGHUP (or whatever hup delivers) and when the files
// change, until ctx ends. It watches the directories of the main file, of
// the included files and of the config_files patterns, so that editors that
// save by renaming and Kubernetes, which swaps a ..data symlink, are seen.
// A failed reload does not stop the watch.
func (r *Reloader) Run(ctx context.Context, hup <-chan os.Signal) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer w.Close()
	watched := map[string]bool{}
	r.updateWatches(w, watched)

	var timer *time.Timer
	var timerC <-chan time.Time
	var firstEvent time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			r.logger.Info("Received SIGHUP, reloading the configuration")
			r.Reload()
			r.updateWatches(w, watched)
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("file watcher stopped")
			}
			if !r.relevant(ev.Name) {
				continue
			}
			r.logger.Debug("Configuration file changed", "file", ev.Name, "op", ev.Op.String())
			now := time.Now()
			if timer == nil {
				firstEvent = now
				timer = time.NewTimer(r.opts.Debounce)
				timerC = timer.C
			} else if now.Sub(firstEvent) < maxReloadDelay {
				timer.Reset(r.opts.Debounce)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("file watcher stopped")
			}
			r.logger.Warn("File watcher error", "err", err)
		case <-timerC:
			timer, timerC = nil, nil
			r.Reload()
			r.updateWatches(w, watched)
		}
	}
}

// watchDirs returns the directories whose events may change the
// configuration.
func (r *Reloader) watchDirs() []string {
	cfg := r.Current()
	dirs := []string{filepath.Dir(r.opts.File)}
	for _, f := range cfg.Files {
		dirs = append(dirs, filepath.Dir(f))
	}
	for _, p := range cfg.ConfigFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cfg.File), p)
		}
		dirs = append(dirs, staticDir(p))
	}
	return dirs
}

// staticDir returns the longest directory prefix of pattern without
// wildcards.
func staticDir(pattern string) string {
	dir := filepath.Dir(pattern)
	for strings.ContainsAny(dir, `*?[\`) {
		dir = filepath.Dir(dir)
	}
	return dir
}

func (r *Reloader) updateWatches(w *fsnotify.Watcher, watched map[string]bool) {
	want := map[string]bool{}
	for _, d := range r.watchDirs() {
		want[filepath.Clean(d)] = true
	}
	for d := range want {
		if watched[d] {
			continue
		}
		if err := w.Add(d); err != nil {
			r.logger.Warn("Cannot watch configuration directory; use SIGHUP to reload", "dir", d, "err", err)
			continue
		}
		watched[d] = true
	}
	for d := range watched {
		if !want[d] {
			w.Remove(d)
			delete(watched, d)
		}
	}
}

// relevant reports whether a change to name can change the configuration:
// a file that was read, a file a config_files pattern matches, or a
// Kubernetes ..data entry.
func (r *Reloader) relevant(name string) bool {
	name = filepath.Clean(name)
	if strings.HasPrefix(filepath.Base(name), "..") {
		return true
	}
	if name == filepath.Clean(r.opts.File) {
		return true
	}
	cfg := r.Current()
	for _, f := range cfg.Files {
		if filepath.Clean(f) == name {
			return true
		}
	}
	for _, p := range cfg.ConfigFiles {
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(cfg.File), p)
		}
		if ok, _ := filepath.Match(filepath.Clean(p), name); ok {
			return true
		}
	}
	return false
}
